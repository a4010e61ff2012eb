//! The sim's recording: what its Profile G face (Recording Search, Replay, RTSP replay)
//! serves. It is the clip repeated, back to back, from [`SimRecording::start`] to now, with one
//! gap, like the SD card of a camera that records around the clock and was once off for a
//! minute.
//!
//! Which frame is where: see [`SimRecording`].

use std::time::{Duration, SystemTime};

use super::clip::FPS;

/// The token of the sim's one recording (Recording Search, GetReplayUri).
pub const RECORDING_TOKEN: &str = "SimRecording_1";
/// The token of the recording's one track (video).
pub const TRACK_TOKEN: &str = "VIDEO001";
/// RTSP replay URLs are `rtsp://IP:PORT/replay/<recording token>`.
pub const REPLAY_PATH_PREFIX: &str = "/replay/";

/// Nanoseconds of one frame (40 ms at 25 fps).
pub(crate) const FRAME_NS: i64 = 1_000_000_000 / FPS as i64;
/// Frames in one GOP of the clip (a keyframe every 2 s).
pub(crate) const GOP_FRAMES: u64 = 50;
/// Frames in the clip.
pub(crate) const CLIP_FRAMES: u64 = 250;
const CLIP_NS: i64 = FRAME_NS * CLIP_FRAMES as i64;
const GOP_NS: i64 = FRAME_NS * GOP_FRAMES as i64;

/// The one gap in the recording, relative to its start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimGap {
    /// How long after the recording's start the gap begins (rounded down to a 2 s GOP).
    pub after: Duration,
    /// How long it lasts (rounded down to a 2 s GOP; under 2 s means no gap).
    pub length: Duration,
}

/// The recording the Profile G face serves. `Default`: the last 2 hours with a 60 s gap in
/// the middle (one hour after the start).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimRecordingOptions {
    /// How far back from the sim's start the recording reaches (its start is then rounded
    /// down to a multiple of 10 s since the Unix epoch). Capped at 30 days.
    pub length: Duration,
    /// The one gap; `None`: the footage is contiguous. A gap that does not fit before the
    /// sim's start is cut at it.
    pub gap: Option<SimGap>,
}

impl Default for SimRecordingOptions {
    fn default() -> Self {
        SimRecordingOptions {
            length: Duration::from_secs(2 * 3600),
            gap: Some(SimGap {
                after: Duration::from_secs(3600),
                length: Duration::from_secs(60),
            }),
        }
    }
}

/// Where the running sim's recording is.
///
/// # Which frame is where (tests rely on this)
///
/// - The recording starts at a multiple of 10 s (the clip's length) since the Unix epoch:
///   the sim's start time minus [`SimRecordingOptions::length`], rounded down.
/// - Frame `n` of the recording was captured at `start + n × 40 ms` and is access unit
///   `n mod 250` of [`clip_access_units`](super::clip_access_units). Because the start is a
///   multiple of 10 s, the frame captured at wall-clock time `t` is access unit
///   `floor(t_unix / 40 ms) mod 250`, whatever the start ([`SimRecording::clip_index_at`]).
/// - Keyframes (IDR, with SPS and PPS) are the frames whose clip index is a multiple of 50: one
///   every 2 s, at even seconds.
/// - The gap starts and ends on keyframes: its start and length are rounded down to whole
///   2 s GOPs. No frame is captured inside it; the frames after it keep their times (the clip
///   goes on where the wall clock says, not where it stopped).
/// - The recording is still going: its end is "now" (the last frame captured at or before
///   the current time), so footage of a time after the sim started is there once that time
///   has passed (for back-fill tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimRecording {
    /// The first frame's capture time (a multiple of 10 s since the Unix epoch).
    pub start: SystemTime,
    /// The gap `[from, to)`: the first missing frame's time and the first frame after it
    /// (both keyframe times). `None`: contiguous.
    pub gap: Option<(SystemTime, SystemTime)>,
}

impl SimRecording {
    /// The access unit of the clip (an index into
    /// [`clip_access_units`](super::clip_access_units)) captured at `t`:
    /// `floor(t_unix / 40 ms) mod 250`, the frame showing at `t`. `None` before the
    /// recording's start, inside the gap, or after now.
    pub fn clip_index_at(&self, t: SystemTime) -> Option<usize> {
        let plan = Plan::from_public(self);
        let n = plan.frame_at(to_nanos(t))?;
        (n < plan.frames_until(now_nanos()) && !plan.in_gap(n))
            .then_some((n % CLIP_FRAMES) as usize)
    }

    /// The time of the recording's last frame so far (the end moves on with the clock).
    pub fn latest(&self) -> SystemTime {
        let plan = Plan::from_public(self);
        from_nanos(plan.time_of(plan.frames_until(now_nanos()).saturating_sub(1)))
    }
}

/// The recording in frame numbers, as the sim's servers use it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Unix nanoseconds of frame 0 (a multiple of 10 s).
    pub(crate) start_ns: i64,
    /// Frames `[from, to)` that were never recorded.
    pub(crate) gap: Option<(u64, u64)>,
}

impl Plan {
    /// The recording for a sim started at `now_ns` (Unix nanoseconds).
    pub(crate) fn new(opts: &SimRecordingOptions, now_ns: i64) -> Plan {
        let max = Duration::from_secs(30 * 24 * 3600);
        let length = i64::try_from(opts.length.min(max).as_nanos()).unwrap_or(0);
        let start_ns = (now_ns - length).div_euclid(CLIP_NS) * CLIP_NS;
        let gops = |d: Duration| {
            let ns = i64::try_from(d.min(max).as_nanos()).unwrap_or(0);
            u64::try_from(ns / GOP_NS).unwrap_or(0) * GOP_FRAMES
        };
        let recorded = u64::try_from((now_ns - start_ns) / FRAME_NS).unwrap_or(0);
        let gap = opts.gap.and_then(|g| {
            let from = gops(g.after);
            let to = (from + gops(g.length)).min(recorded);
            (to > from).then_some((from, to))
        });
        Plan { start_ns, gap }
    }

    fn from_public(r: &SimRecording) -> Plan {
        let start_ns = to_nanos(r.start);
        let frame = |t: SystemTime| u64::try_from((to_nanos(t) - start_ns) / FRAME_NS).ok();
        Plan {
            start_ns,
            gap: r.gap.and_then(|(a, b)| Some((frame(a)?, frame(b)?))),
        }
    }

    pub(crate) fn public(&self) -> SimRecording {
        SimRecording {
            start: from_nanos(self.start_ns),
            gap: self
                .gap
                .map(|(a, b)| (from_nanos(self.time_of(a)), from_nanos(self.time_of(b)))),
        }
    }

    /// Unix nanoseconds of frame `n`.
    pub(crate) fn time_of(&self, n: u64) -> i64 {
        let n = i64::try_from(n).unwrap_or(i64::MAX / FRAME_NS);
        self.start_ns.saturating_add(n.saturating_mul(FRAME_NS))
    }

    /// The frame showing at `t` (the last one captured at or before it), gap or not;
    /// `None` before the start.
    pub(crate) fn frame_at(&self, t: i64) -> Option<u64> {
        u64::try_from((t.checked_sub(self.start_ns)?).div_euclid(FRAME_NS)).ok()
    }

    /// Frames captured by `now` (frame numbers below this exist, gap excepted).
    pub(crate) fn frames_until(&self, now: i64) -> u64 {
        self.frame_at(now).map_or(0, |n| n + 1)
    }

    pub(crate) fn in_gap(&self, n: u64) -> bool {
        self.gap.is_some_and(|(a, b)| (a..b).contains(&n))
    }

    /// Time ranges with data, `[from, to)` in Unix nanoseconds, up to `now`.
    pub(crate) fn sections(&self, now: i64) -> Vec<(i64, i64)> {
        let end = self.frames_until(now);
        let mut out = Vec::new();
        let mut push = |a: u64, b: u64| {
            if b > a {
                out.push((self.time_of(a), self.time_of(b)));
            }
        };
        match self.gap {
            Some((a, b)) => {
                push(0, a.min(end));
                push(b, end);
            }
            None => push(0, end),
        }
        out
    }
}

pub(crate) fn now_nanos() -> i64 {
    to_nanos(SystemTime::now())
}

pub(crate) fn to_nanos(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX),
    }
}

pub(crate) fn from_nanos(ns: i64) -> SystemTime {
    let d = Duration::from_nanos(ns.unsigned_abs());
    if ns >= 0 {
        SystemTime::UNIX_EPOCH + d
    } else {
        SystemTime::UNIX_EPOCH - d
    }
}

/// RFC 3339 UTC with the fraction when there is one (`2026-11-25T10:00:00.04Z`).
pub(crate) fn show(ns: i64) -> String {
    jiff::Timestamp::from_nanosecond(i128::from(ns))
        .map(|t| t.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_600_803_123_000_000; // 2026-11-25T10:00:03.123Z

    #[test]
    fn start_is_on_the_clip_and_the_gap_on_keyframes() {
        let opts = SimRecordingOptions {
            length: Duration::from_secs(95),
            gap: Some(SimGap {
                after: Duration::from_millis(31_500),
                length: Duration::from_millis(12_900),
            }),
        };
        let p = Plan::new(&opts, NOW);
        // 10:00:03.123 - 95 s = 09:58:28.123, rounded down to 09:58:20.
        assert_eq!(p.start_ns, 1_795_600_800_000_000_000 - 100_000_000_000);
        assert_eq!(p.start_ns % CLIP_NS, 0);
        // 30 s (750 frames) .. 30 s + 12 s (300 frames).
        assert_eq!(p.gap, Some((750, 1050)));
        assert_eq!(p.frames_until(NOW), 2579);
        assert_eq!(p.frame_at(p.start_ns - 1), None);
        assert!(p.in_gap(750) && p.in_gap(1049) && !p.in_gap(1050));
        let s = p.sections(NOW);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0], (p.start_ns, p.start_ns + 30_000_000_000));
        assert_eq!(s[1].0, p.start_ns + 42_000_000_000);
        assert_eq!(s[1].1, p.time_of(2579));
        // The public view round-trips.
        assert_eq!(Plan::from_public(&p.public()), p);
    }

    #[test]
    fn the_frame_at_a_time_follows_the_unix_clock() {
        let p = Plan::new(&SimRecordingOptions::default(), now_nanos());
        let r = p.public();
        let t = to_nanos(r.start) + 3_600_000_000_000 + 60_000_000_000 + 1_234_567_890;
        assert_eq!(
            r.clip_index_at(from_nanos(t)),
            Some(((t / FRAME_NS) % 250) as usize)
        );
        assert_eq!(r.clip_index_at(from_nanos(to_nanos(r.start) - 1)), None);
        let (gap_from, gap_to) = r.gap.expect("a gap by default");
        assert_eq!(r.clip_index_at(gap_from), None);
        assert_eq!(r.clip_index_at(gap_to), Some(0), "a keyframe after the gap");
        assert_eq!(
            to_nanos(gap_to) - to_nanos(gap_from),
            60_000_000_000,
            "60 s"
        );
        assert!(r.latest() <= SystemTime::now());
    }

    #[test]
    fn a_gap_past_now_is_cut_and_none_is_contiguous() {
        let opts = SimRecordingOptions {
            length: Duration::from_secs(20),
            gap: Some(SimGap {
                after: Duration::from_secs(24),
                length: Duration::from_secs(60),
            }),
        };
        let p = Plan::new(&opts, NOW);
        // start 09:59:40; 23.123 s recorded: frames 600.. (24 s) are after now.
        assert_eq!(p.gap, None);
        let p = Plan::new(&SimRecordingOptions { gap: None, ..opts }, NOW);
        assert_eq!(p.sections(NOW).len(), 1);
    }
}

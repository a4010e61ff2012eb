//! RTSP replay of the sim's recording (ONVIF Streaming Specification, "Playback"), at
//! `rtsp://IP:PORT/replay/<RECORDING_TOKEN>`.
//!
//! - `DESCRIBE` gives the live stream's SDP plus `a=x-onvif-track:VIDEO001` and
//!   `a=range:clock=<start>-`; `SETUP` is the live one (TCP interleaved or UDP).
//! - `PLAY` needs `Require: onvif-replay`; without it the answer is `551 Option not
//!   supported` with `Unsupported: onvif-replay` (the replay URL serves nothing else: playing
//!   something else silently would be the wrong footage). `Require: onvif-replay` on the live
//!   `/stream` is `551` too, as a camera without Profile G answers.
//! - `Range: clock=T1-[T2]` (`YYYYMMDDThhmmss[.f]Z`): playback starts at the keyframe at or
//!   before T1 (keyframes every 2 s), or at the first keyframe after the gap when T1 is in
//!   it, or at the recording's start when T1 is before it; it stops before T2 (frames with a
//!   time `< T2`) or at the recording's end (now), then RTCP BYE follows. A range with no
//!   frame in it (T1 at or after now, T2 at or before the start, the whole range in the
//!   gap), T2 not after T1 (no reverse play) or another unit than `clock=` is
//!   `457 Invalid Range`. No Range: the recording from its start, or a paused session goes
//!   on where it stopped.
//! - `Rate-Control: no`: as fast as the connection takes it (the socket's backpressure is
//!   the bound); `yes` or absent: real time. Anything else is 400. The answer echoes it.
//! - `Immediate: yes` is accepted; every PLAY with a Range starts at once (a seek), and its
//!   first frame has D. `Scale` other than 1 is not offered (forward at normal speed whatever
//!   it says; `Scale: 1.0` is echoed).
//! - `Frames: all` (or `predicted`: the clip has no B-frames) sends every frame; `intra` only
//!   keyframes; `intra/<ms>` keyframes at least that far apart (recording time). Anything
//!   else is 400.
//! - Every RTP packet carries the 0xABAC header extension: the frame's capture time (NTP),
//!   C on keyframes, D on the first frame of a PLAY and the first after the gap, E on the
//!   last frame before the gap, T on the last frame this PLAY sends, and the low byte of the
//!   PLAY's CSeq. RTP timestamps follow the capture times (they jump over the gap).
//! - No sender reports while replaying (the spec lets a server send none); the BYE's SR has
//!   NTP and RTP time 0 with `Rate-Control: no`, as the spec asks.

use super::recording::{CLIP_FRAMES, FRAME_NS, GOP_FRAMES, Plan};
use crate::replay::extension::{FLAG_C, FLAG_D, FLAG_E, FLAG_T, unix_nanos_to_ntp};

/// Bytes of the header extension: 4 of header (0xABAC, length 3) and 12 of data.
pub(crate) const EXTENSION_LEN: usize = 16;

/// Why a PLAY range cannot be played: `457 Invalid Range`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InvalidRange;

/// Which frames a PLAY asked for (`Frames`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Frames {
    /// Every frame.
    All,
    /// Keyframes at least this many frames apart (1: every keyframe).
    Intra(u64),
}

impl Frames {
    /// The `Frames` header (ONVIF Streaming, "Frames"); `None` when it is not understood.
    pub(crate) fn parse(v: &str) -> Option<Frames> {
        let v = v.trim();
        if v.eq_ignore_ascii_case("all") || v.eq_ignore_ascii_case("predicted") {
            return Some(Frames::All);
        }
        let rest = v.strip_prefix("intra")?;
        if rest.is_empty() {
            return Some(Frames::Intra(1));
        }
        let ms: u64 = rest.strip_prefix('/')?.trim().parse().ok()?;
        let frame_ms = FRAME_NS as u64 / 1_000_000;
        Some(Frames::Intra(ms.div_ceil(frame_ms).max(1)))
    }
}

/// Where a replay session is in the recording.
#[derive(Debug, Clone)]
pub(crate) struct Cursor {
    plan: Plan,
    /// The next frame's number.
    next: u64,
    /// Frames below this are sent (T2 or the recording's end at the PLAY).
    end: u64,
    /// D on the next frame.
    discont: bool,
    /// Low byte of the CSeq of the PLAY that started this data.
    cseq: u8,
    frames: Frames,
}

/// One frame to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Frame {
    /// Frame number in the recording (RTP timestamps count from it).
    pub(crate) number: u64,
    /// Access unit of the clip.
    pub(crate) index: usize,
    /// The 0xABAC header extension, header included.
    pub(crate) extension: [u8; EXTENSION_LEN],
}

/// `clock=T1-[T2]` as Unix nanoseconds; `None` when it is not a `clock=` range.
pub(crate) fn parse_clock_range(range: &str) -> Option<(i64, Option<i64>)> {
    let v = range.trim().strip_prefix("clock=")?;
    let (a, b) = v.split_once('-')?;
    let t1 = crate::replay::fetch::parse_clock_time(a.trim())?;
    let b = b.trim();
    let t2 = if b.is_empty() {
        None
    } else {
        Some(crate::replay::fetch::parse_clock_time(b)?)
    };
    Some((t1, t2))
}

/// `YYYYMMDDThhmmss[.fff]Z`.
pub(crate) fn clock_time(ns: i64) -> String {
    let Ok(t) = jiff::Timestamp::from_nanosecond(i128::from(ns)) else {
        return String::new();
    };
    let ms = ns.rem_euclid(1_000_000_000) / 1_000_000;
    let base = t.strftime("%Y%m%dT%H%M%S").to_string();
    if ms == 0 {
        format!("{base}Z")
    } else {
        format!("{base}.{ms:03}Z")
    }
}

/// Frames in `d` nanoseconds (> 0), rounded up.
fn ceil_frames(d: i64) -> u64 {
    u64::try_from(d).map_or(u64::MAX, |d| d.div_ceil(FRAME_NS as u64))
}

impl Cursor {
    /// Playback of `[t1, t2)` (`t2` `None`: to the end) of the recording as it is at `now`.
    pub(crate) fn seek(
        plan: Plan,
        t1: i64,
        t2: Option<i64>,
        now: i64,
        cseq: u8,
    ) -> Result<Cursor, InvalidRange> {
        let recorded = plan.frames_until(now);
        let end_time = plan.time_of(recorded);
        let t2 = t2.unwrap_or(end_time);
        if t2 <= t1 {
            return Err(InvalidRange);
        }
        // Frames with a time below T2.
        let end = match t2.checked_sub(plan.start_ns) {
            Some(d) if d > 0 => ceil_frames(d),
            _ => 0,
        }
        .min(recorded);
        // The first frame at or after T1 must exist and come before the end.
        let mut first = match t1.checked_sub(plan.start_ns) {
            Some(d) if d > 0 => ceil_frames(d),
            _ => 0,
        };
        if let Some((a, b)) = plan.gap
            && (a..b).contains(&first)
        {
            first = b;
        }
        if first >= end {
            return Err(InvalidRange);
        }
        // Start at the keyframe at or before T1 (after the gap when that one is in it).
        let mut start = plan.frame_at(t1).unwrap_or(0).min(first);
        start -= start % GOP_FRAMES;
        if plan.in_gap(start)
            && let Some((_, b)) = plan.gap
        {
            start = b;
        }
        Ok(Cursor {
            plan,
            next: start,
            end,
            discont: true,
            cseq,
            frames: Frames::All,
        })
    }

    /// The time of the first frame still to be sent (the answer's Range start).
    pub(crate) fn start_time(&self) -> i64 {
        self.plan.time_of(self.next)
    }

    /// The end of what this PLAY sends (the answer's Range end).
    pub(crate) fn end_time(&self) -> i64 {
        self.plan.time_of(self.end)
    }

    /// The next frame's number (for RTP-Info).
    pub(crate) fn next_number(&self) -> u64 {
        self.next
    }

    /// A PLAY without Range goes on from here: its frames carry that PLAY's CSeq.
    pub(crate) fn resume(&mut self, cseq: u8) {
        self.cseq = cseq;
    }

    /// Which frames to send from now on.
    pub(crate) fn set_frames(&mut self, frames: Frames) {
        self.frames = frames;
    }

    /// The next frame with its extension, or `None` once everything was sent.
    pub(crate) fn next_frame(&mut self) -> Option<Frame> {
        if self.next >= self.end {
            return None;
        }
        let n = self.next;
        let mut flags = 0;
        if n.is_multiple_of(GOP_FRAMES) {
            flags |= FLAG_C;
        }
        if std::mem::take(&mut self.discont) {
            flags |= FLAG_D;
        }
        let mut following = match self.frames {
            Frames::All => n + 1,
            // The next keyframe at least `step` frames on.
            Frames::Intra(step) => (n + step).div_ceil(GOP_FRAMES) * GOP_FRAMES,
        };
        if let Some((a, b)) = self.plan.gap
            && n < a
            && following >= a
        {
            // The last frame before the gap; the next one is its end (a keyframe) or later.
            following = following.max(b);
            flags |= FLAG_E;
            self.discont = true;
        }
        if following >= self.end {
            flags |= FLAG_T;
        }
        self.next = following;
        let ntp = unix_nanos_to_ntp(self.plan.time_of(n));
        let mut extension = [0u8; EXTENSION_LEN];
        extension[..4].copy_from_slice(&[0xAB, 0xAC, 0, 3]);
        extension[4..12].copy_from_slice(&ntp.to_be_bytes());
        extension[12] = flags;
        extension[13] = self.cseq;
        Some(Frame {
            number: n,
            index: (n % CLIP_FRAMES) as usize,
            extension,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::extension::ReplayExtension;
    use crate::sim::recording::{SimGap, SimRecordingOptions};
    use std::time::Duration;

    /// 2026-11-25T10:00:00Z + 100 s, a recording of 100 s with a 12 s gap 30 s in.
    const NOW: i64 = 1_795_600_900_000_000_000;
    const S: i64 = 1_000_000_000;

    fn plan() -> Plan {
        Plan::new(
            &SimRecordingOptions {
                length: Duration::from_secs(100),
                gap: Some(SimGap {
                    after: Duration::from_secs(30),
                    length: Duration::from_secs(12),
                }),
            },
            NOW,
        )
    }

    fn ext(f: &Frame) -> ReplayExtension {
        ReplayExtension::parse(0xABAC, &f.extension[4..]).expect("extension")
    }

    #[test]
    fn clock_ranges_parse_and_print() {
        let t = 1_795_600_830 * S;
        assert_eq!(
            parse_clock_range("clock=20261125T100030Z-20261125T100130.5Z"),
            Some((t, Some(t + 60 * S + S / 2)))
        );
        assert_eq!(
            parse_clock_range("clock=20261125T100030.25Z-"),
            Some((t + S / 4, None))
        );
        for bad in ["npt=0-", "clock=", "clock=x-", "clock=20261125T100030Z", ""] {
            assert_eq!(parse_clock_range(bad), None, "{bad}");
        }
        assert_eq!(clock_time(t), "20261125T100030Z");
        assert_eq!(clock_time(t + 40_000_000), "20261125T100030.040Z");
    }

    #[test]
    fn a_window_across_the_gap_starts_on_a_keyframe_and_flags_the_gap() {
        let p = plan();
        let start = p.start_ns;
        // 25.5 s .. 44.02 s: keyframe at 24 s; gap 30..42 s; frames below 44.02 s.
        let mut c = Cursor::seek(
            p,
            start + 25 * S + S / 2,
            Some(start + 44 * S + S / 50),
            NOW,
            7,
        )
        .expect("range");
        assert_eq!(c.start_time(), start + 24 * S);
        let frames: Vec<Frame> = std::iter::from_fn(|| c.next_frame()).collect();
        // 24..30 s (150 frames) and 42..44.04 s (51 frames).
        assert_eq!(frames.len(), 150 + 51);
        assert_eq!(frames[0].number, 600);
        let x: Vec<ReplayExtension> = frames.iter().map(ext).collect();
        assert!(x[0].discontinuity && x[0].clean_point && x[0].cseq == 7);
        assert!(
            x[149].end_of_section && !x[149].terminal,
            "last frame before the gap"
        );
        assert_eq!(frames[150].number, 1050);
        assert!(
            x[150].discontinuity && x[150].clean_point,
            "first frame after the gap"
        );
        assert!(x[200].terminal && !x[199].terminal);
        assert_eq!(x.iter().filter(|x| x.clean_point).count(), 3 + 2);
        assert_eq!(x.iter().filter(|x| x.discontinuity).count(), 2);
        let t = |i: usize| x[i].unix_nanos_near(start).expect("time");
        assert_eq!(t(0), start + 24 * S);
        assert_eq!(t(150), start + 42 * S);
        assert_eq!(t(200), start + 44 * S);
        // Clip indexes follow the Unix clock.
        for f in &frames {
            let tf = p.time_of(f.number);
            assert_eq!(f.index, ((tf / FRAME_NS) % 250) as usize);
        }
    }

    #[test]
    fn frames_intra_sends_keyframes_only() {
        assert_eq!(Frames::parse("all"), Some(Frames::All));
        assert_eq!(Frames::parse("predicted"), Some(Frames::All));
        assert_eq!(Frames::parse("intra"), Some(Frames::Intra(1)));
        assert_eq!(Frames::parse("intra/5000"), Some(Frames::Intra(125)));
        for bad in ["", "some", "intra/x", "intra5"] {
            assert_eq!(Frames::parse(bad), None, "{bad}");
        }
        let p = plan();
        let start = p.start_ns;
        let mut c = Cursor::seek(p, start + 20 * S, Some(start + 50 * S), NOW, 1).expect("range");
        c.set_frames(Frames::Intra(1));
        let got: Vec<(u64, u8)> = std::iter::from_fn(|| c.next_frame())
            .map(|f| (f.number, f.extension[12]))
            .collect();
        // Keyframes at 20, 22 .. 28 s, then 42 .. 48 s.
        let numbers: Vec<u64> = got.iter().map(|g| g.0).collect();
        assert_eq!(numbers, [500, 550, 600, 650, 700, 1050, 1100, 1150, 1200]);
        assert!(got.iter().all(|g| g.1 & FLAG_C != 0));
        assert_eq!(got[4].1 & FLAG_E, FLAG_E, "the last before the gap");
        assert_eq!(got[5].1 & FLAG_D, FLAG_D, "the first after it");
        assert_eq!(got[8].1 & FLAG_T, FLAG_T);
        // At least 5 s apart.
        let mut c = Cursor::seek(p, start, Some(start + 30 * S), NOW, 1).expect("range");
        c.set_frames(Frames::parse("intra/5000").unwrap());
        let numbers: Vec<u64> = std::iter::from_fn(|| c.next_frame())
            .map(|f| f.number)
            .collect();
        assert_eq!(numbers, [0, 150, 300, 450, 600]);
    }

    #[test]
    fn ranges_without_frames_are_invalid_and_edges_clamp() {
        let p = plan();
        let start = p.start_ns;
        let seek = |a: i64, b: Option<i64>| Cursor::seek(p, a, b, NOW, 1);
        assert_eq!(seek(NOW + S, None).err(), Some(InvalidRange), "after now");
        assert_eq!(seek(start - 20 * S, Some(start)).err(), Some(InvalidRange));
        assert_eq!(
            seek(start + 10 * S, Some(start + 5 * S)).err(),
            Some(InvalidRange)
        );
        assert_eq!(
            seek(start + 31 * S, Some(start + 41 * S)).err(),
            Some(InvalidRange),
            "all in the gap"
        );
        // In the gap, running past it: from the gap's end.
        let c = seek(start + 31 * S, Some(start + 43 * S)).expect("range");
        assert_eq!(c.start_time(), start + 42 * S);
        // Before the start: from the start; open end: up to now.
        let mut c = seek(start - 60 * S, None).expect("range");
        assert_eq!(c.start_time(), start);
        assert_eq!(c.end_time(), p.time_of(p.frames_until(NOW)));
        let n = std::iter::from_fn(|| c.next_frame()).count() as u64;
        assert_eq!(n, p.frames_until(NOW) - 300, "all but the gap");
    }
}

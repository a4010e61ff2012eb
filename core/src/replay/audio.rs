//! Audio beside the fetched video: where each audio frame sits on the wall clock.
//!
//! Replay has no RTCP sender reports to go by (with `Rate-Control: no` their NTP and RTP
//! fields are zero by the Streaming spec), so an audio frame is placed by, in order:
//! 1. **its own 0xABAC time**: ONVIF replay servers put the extension on the packets of
//!    every stream (GStreamer runs `rtponviftimestamp` per stream). The frame's time is the
//!    NTP of the latest timed packet of its stream plus the RTP distance to it (an AAC
//!    packet carries several frames; a frame's own packet is usually that latest one);
//! 2. **RTP-Info**: the PLAY answer's `rtptime` of the video and of the audio stream name
//!    the same instant (the start of the range played), so the audio RTP clock is tied to
//!    the video's, whose frames have wall clocks. This is what vendor playback (no 0xABAC)
//!    relies on;
//! 3. **arrival**: the first audio packet's arrival minus the first video frame's,
//!    added to that frame's wall clock. Only right at real-time pace; the last resort.
//!
//! Once a stream has a place, later frames without their own time follow its RTP clock
//! from the last placed one. Frames wait (bounded) until the first video frame is timed:
//! the sinks need the video's clock to put audio into a file.

use std::collections::VecDeque;
use std::time::Instant;

use crate::export::{Nanos, ticks_to_nanos};
use crate::fmp4::AudioConfig;
use crate::rtp::audio::AudioFrame;

/// Audio frames waiting for the first timed video frame: about 20 s of 20 ms G.711
/// packets. Older ones are dropped first.
const MAX_PENDING: usize = 1024;

/// One audio stream set up beside the video.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct AudioLane {
    /// Its sample entry (from the SDP, through the depacketizer).
    pub(super) config: AudioConfig,
    /// `RTP-Info` `rtptime` of the PLAY answer for this stream.
    pub(super) rtptime: Option<u32>,
}

/// One audio frame as it came out of its depacketizer.
#[derive(Debug)]
pub(super) struct AudioIn {
    /// Index into the session's audio lanes.
    pub(super) lane: usize,
    /// The frame (its bytes referenced in place).
    pub(super) frame: AudioFrame,
    /// Its wall clock from the stream's 0xABAC times, when the stream carries them.
    pub(super) own_wall: Option<Nanos>,
    /// When its last packet arrived.
    pub(super) arrival: Instant,
}

/// An audio frame with its wall clock.
#[derive(Debug)]
pub(super) struct Placed {
    pub(super) lane: usize,
    pub(super) frame: AudioFrame,
    pub(super) wall: Nanos,
}

/// How frames were placed (see the module docs), for the manifest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct PlacedCounts {
    /// By their own 0xABAC time.
    pub(super) extension: u64,
    /// By RTP from a frame placed by 0xABAC.
    pub(super) rtp: u64,
    /// By RTP-Info (and RTP from there).
    pub(super) rtp_info: u64,
    /// By arrival (and RTP from there).
    pub(super) arrival: u64,
}

impl PlacedCounts {
    /// `0xabac`, `0xabac+rtp`, `rtp-info`, `arrival`, or such a list joined by `+`.
    pub(super) fn describe(&self) -> String {
        let names = [
            (self.extension, "0xabac"),
            (self.rtp, "rtp"),
            (self.rtp_info, "rtp-info"),
            (self.arrival, "arrival"),
        ];
        let v: Vec<&str> = names
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|&(_, s)| s)
            .collect();
        v.join("+")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum By {
    Extension,
    RtpInfo,
    Arrival,
}

#[derive(Debug)]
struct LaneClock {
    rate: u32,
    rtptime: Option<u32>,
    /// Wall clock and extended RTP time of the last placed frame, and how it was placed.
    anchor: Option<(Nanos, i64, By)>,
}

/// Places audio frames on the wall clock (see the module docs).
#[derive(Debug)]
pub(super) struct AudioPlacer {
    lanes: Vec<LaneClock>,
    video_rate: u32,
    video_rtptime: Option<u32>,
    /// Wall clock, RTP time and arrival of the first timed video frame.
    first_video: Option<(Nanos, i64, Instant)>,
    pending: VecDeque<AudioIn>,
    pub(super) counts: PlacedCounts,
    /// Frames dropped while waiting for the video.
    pub(super) dropped: u64,
}

impl AudioPlacer {
    pub(super) fn new(lanes: &[AudioLane], video_rate: u32, video_rtptime: Option<u32>) -> Self {
        AudioPlacer {
            lanes: lanes
                .iter()
                .map(|l| LaneClock {
                    rate: l.config.timescale.max(1),
                    rtptime: l.rtptime,
                    anchor: None,
                })
                .collect(),
            video_rate: video_rate.max(1),
            video_rtptime,
            first_video: None,
            pending: VecDeque::new(),
            counts: PlacedCounts::default(),
            dropped: 0,
        }
    }

    /// A video frame got its wall clock `wall` (RTP time `rtp`; its first packet arrived at
    /// `arrival`).
    pub(super) fn on_video(&mut self, wall: Nanos, rtp: i64, arrival: Option<Instant>) {
        if self.first_video.is_none() && !self.lanes.is_empty() {
            self.first_video = Some((wall, rtp, arrival.unwrap_or_else(Instant::now)));
        }
    }

    /// Queues a frame; [`Self::pop`] gives it back placed.
    pub(super) fn push(&mut self, a: AudioIn) {
        if self.pending.len() >= MAX_PENDING {
            self.pending.pop_front();
            self.dropped += 1;
        }
        self.pending.push_back(a);
    }

    /// The next frame that can be placed now, in arrival order.
    pub(super) fn pop(&mut self) -> Option<Placed> {
        let first_video = self.first_video?;
        let mut a = self.pending.pop_front()?;
        while a.lane >= self.lanes.len() {
            self.dropped += 1;
            a = self.pending.pop_front()?;
        }
        let lc = self.lanes.get_mut(a.lane)?;
        let ts = a.frame.timestamp;
        let (wall, by) = if let Some(w) = a.own_wall {
            self.counts.extension += 1;
            (w, By::Extension)
        } else if let Some((w, t, by)) = lc.anchor {
            match by {
                By::Extension => self.counts.rtp += 1,
                By::RtpInfo => self.counts.rtp_info += 1,
                By::Arrival => self.counts.arrival += 1,
            }
            (w.saturating_add(ticks_to_nanos(ts - t, lc.rate)), by)
        } else {
            let (vw, vrtp, varr) = first_video;
            match (self.video_rtptime, lc.rtptime) {
                (Some(rv), Some(ra)) => {
                    // Both rtptimes name the same instant: the video's wall clock there.
                    let v_step = rv.wrapping_sub(vrtp as u32) as i32;
                    let at = vw.saturating_add(ticks_to_nanos(i64::from(v_step), self.video_rate));
                    let a_step = (ts as u32).wrapping_sub(ra) as i32;
                    self.counts.rtp_info += 1;
                    (
                        at.saturating_add(ticks_to_nanos(i64::from(a_step), lc.rate)),
                        By::RtpInfo,
                    )
                }
                _ => {
                    let d = match a.arrival.checked_duration_since(varr) {
                        Some(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
                        None => -i64::try_from(varr.duration_since(a.arrival).as_nanos())
                            .unwrap_or(i64::MAX),
                    };
                    self.counts.arrival += 1;
                    (vw.saturating_add(d), By::Arrival)
                }
            }
        };
        lc.anchor = Some((wall, ts, by));
        Some(Placed {
            lane: a.lane,
            frame: a.frame,
            wall,
        })
    }
}

/// The RTP-Info `rtptime` of the stream whose control URL is `control`: by `url=` (the
/// control URL or a suffix of it: devices send relative ones), else by position (`index`
/// among `count` streams set up) when the counts match.
pub(super) fn rtptime_of(
    infos: &[crate::rtsp::headers::RtpInfo],
    control: &str,
    index: usize,
    count: usize,
) -> Option<u32> {
    let by_url = infos.iter().find(|i| {
        i.url.as_deref().is_some_and(|u| {
            let u = u.trim();
            !u.is_empty() && (control == u || control.ends_with(u.trim_start_matches('/')))
        })
    });
    match by_url {
        Some(i) => i.rtptime,
        None if infos.len() == count => infos.get(index).and_then(|i| i.rtptime),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fmp4::AudioCodec;

    fn lane(rtptime: Option<u32>) -> AudioLane {
        AudioLane {
            config: AudioConfig {
                codec: AudioCodec::Pcmu,
                timescale: 8000,
                sample_rate: 8000,
                channels: 1,
                config: Vec::new(),
            },
            rtptime,
        }
    }

    fn frame(ts: i64) -> AudioFrame {
        AudioFrame {
            timestamp: ts,
            samples: 160,
            ..Default::default()
        }
    }

    const S: Nanos = 1_000_000_000;

    #[test]
    fn own_times_win_and_rtp_follows_them() {
        let mut p = AudioPlacer::new(&[lane(None)], 90_000, None);
        let now = Instant::now();
        p.push(AudioIn {
            lane: 0,
            frame: frame(1000),
            own_wall: Some(100 * S),
            arrival: now,
        });
        assert!(p.pop().is_none(), "waits for the video");
        p.on_video(99 * S, 0, Some(now));
        assert_eq!(p.pop().map(|x| x.wall), Some(100 * S));
        p.push(AudioIn {
            lane: 0,
            frame: frame(1000 + 8000),
            own_wall: None,
            arrival: now,
        });
        assert_eq!(p.pop().map(|x| x.wall), Some(101 * S));
        assert_eq!(p.counts.describe(), "0xabac+rtp");
    }

    /// Video rtptime 9000 (0.1 s before the first frame at RTP 18000, wall 50 s): the range
    /// start is 49.9 s; audio rtptime 400 is the same instant, so audio RTP 800 is 49.95 s.
    #[test]
    fn rtp_info_ties_the_clocks() {
        let mut p = AudioPlacer::new(&[lane(Some(400))], 90_000, Some(9000));
        p.on_video(50 * S, 18_000, None);
        p.push(AudioIn {
            lane: 0,
            frame: frame(800),
            own_wall: None,
            arrival: Instant::now(),
        });
        assert_eq!(p.pop().map(|x| x.wall), Some(49 * S + 950_000_000));
        assert_eq!(p.counts.describe(), "rtp-info");
    }

    #[test]
    fn arrival_is_the_last_resort_and_pending_is_bounded() {
        let mut p = AudioPlacer::new(&[lane(None)], 90_000, Some(1));
        let t0 = Instant::now();
        for i in 0..(MAX_PENDING + 5) {
            p.push(AudioIn {
                lane: 0,
                frame: frame(i as i64 * 160),
                own_wall: None,
                arrival: t0,
            });
        }
        assert_eq!(p.dropped, 5);
        p.on_video(10 * S, 0, Some(t0));
        let first = p.pop().expect("placed");
        assert_eq!(first.wall, 10 * S);
        assert_eq!(p.pop().map(|x| x.wall), Some(10 * S + 20_000_000));
        assert_eq!(p.counts.describe(), "arrival");
    }

    #[test]
    fn rtp_info_by_url_suffix_else_by_position() {
        let infos = crate::rtsp::headers::parse_rtp_info(
            "url=rtsp://h/rec/stream=0;seq=1;rtptime=10,url=stream=1;seq=2;rtptime=20",
        );
        assert_eq!(rtptime_of(&infos, "rtsp://h/rec/stream=1", 0, 2), Some(20));
        assert_eq!(rtptime_of(&infos, "rtsp://h/rec/stream=0", 1, 2), Some(10));
        let infos = crate::rtsp::headers::parse_rtp_info("url=a;rtptime=7,url=b;rtptime=8");
        assert_eq!(rtptime_of(&infos, "rtsp://h/x/track2", 1, 2), Some(8));
        assert_eq!(rtptime_of(&infos, "rtsp://h/x/track2", 1, 3), None);
    }
}

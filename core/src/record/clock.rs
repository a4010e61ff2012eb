//! Wall-clock time for recorded frames: the one place that decides which clock a frame's
//! time comes from.
//!
//! Rules:
//! 1. Media time is the camera's RTP timestamp, extended to 64 bits (the depacketizer does
//!    that). Durations inside a file always come from it, never from arrival times, so
//!    network jitter never distorts playback.
//! 2. Wall-clock time of a frame = anchor wall time + (frame RTP time − anchor RTP time) /
//!    clock rate. The anchor is:
//!    - the latest RTCP sender report (the camera's own NTP clock) when the camera sends
//!      them and that clock is sane, i.e. within [`WallClock::max_camera_skew`] of our
//!      receive clock (cheap cameras boot in 1970 or keep a wrong timezone offset: their
//!      clock is logged and ignored, never trusted blindly);
//!    - otherwise the receive clock: the wall time at which the first frame arrived.
//!
//!    The first frames of a session come before the camera's first report and are timed by
//!    arrival, late by the camera's latency (a camera with a GOP cache sends the last
//!    seconds at once): when that first report comes, the fragment being built is re-timed
//!    by it ([`crate::record::Ingest::on_sender_report`]), so a session's first fragment
//!    does not overlap the next one.
//! 3. Each new sender report moves the anchor, so camera clock drift is corrected every few
//!    seconds; the step this causes is at most the drift since the last report. A receive-
//!    clock anchor is re-taken when the extrapolated time drifts more than
//!    [`WallClock::max_camera_skew`] from arrival (the camera's media clock runs fast/slow or
//!    the stream resumed after a gap).
//! 4. Times are carried as 64-bit NTP (seconds since 1900 in the upper 32 bits), the unit of
//!    the MP4 `prft` box every fragment carries.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds between 1900-01-01 (NTP epoch) and 1970-01-01 (Unix epoch).
pub const NTP_UNIX_OFFSET_SECS: u64 = 2_208_988_800;

/// Converts a system time to 64-bit NTP.
pub fn system_time_to_ntp(t: SystemTime) -> u64 {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs().saturating_add(NTP_UNIX_OFFSET_SECS);
    let frac = (u64::from(d.subsec_nanos()) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

/// Converts 64-bit NTP to a system time (times before 1970 clamp to the epoch).
pub fn ntp_to_system_time(ntp: u64) -> SystemTime {
    let secs = (ntp >> 32).saturating_sub(NTP_UNIX_OFFSET_SECS);
    let nanos = ((ntp & 0xffff_ffff) * 1_000_000_000) >> 32;
    UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_nanos(nanos)
}

fn ntp_add_ticks(ntp: u64, ticks: i64, clock_rate: u32) -> u64 {
    // ticks / clock_rate seconds, as NTP units (2^32 per second), without overflow.
    let units = (i128::from(ticks) << 32) / i128::from(clock_rate.max(1));
    let v = i128::from(ntp) + units;
    v.clamp(0, i128::from(u64::MAX)) as u64
}

/// `a - b` in seconds.
pub(crate) fn ntp_diff_secs(a: u64, b: u64) -> f64 {
    (a as f64 - b as f64) / 4_294_967_296.0
}

/// Where the current anchor came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockSource {
    /// No frame seen yet.
    None,
    /// RTCP sender reports (the camera's clock).
    SenderReport,
    /// Our receive clock.
    Receive,
}

/// Maps extended RTP timestamps to wall-clock time; see the module docs for the rules.
#[derive(Debug)]
pub struct WallClock {
    clock_rate: u32,
    anchor: Option<(i64, u64)>,
    source: ClockSource,
    last_ts: Option<i64>,
    /// A camera clock further than this from ours is not trusted (default 5 minutes).
    pub max_camera_skew: Duration,
    warned_skew: bool,
}

impl WallClock {
    /// A mapper for a stream with this RTP clock rate (90000 for video).
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate,
            anchor: None,
            source: ClockSource::None,
            last_ts: None,
            max_camera_skew: Duration::from_secs(300),
            warned_skew: false,
        }
    }

    /// Which clock the anchor comes from now.
    pub fn source(&self) -> ClockSource {
        self.source
    }

    /// A sender report arrived at `received` (NTP of our clock).
    pub fn on_sender_report(&mut self, ntp: u64, rtp_timestamp: u32, received: u64) {
        let Some(last) = self.last_ts else {
            // Without a frame we cannot extend the 32-bit timestamp; the next report will do.
            return;
        };
        let ext = extend_near(last, rtp_timestamp);
        let skew = ntp_diff_secs(ntp, received).abs();
        if skew > self.max_camera_skew.as_secs_f64() {
            if !self.warned_skew {
                log::warn!(
                    "camera clock is {skew:.0} s away from ours; using the receive clock instead"
                );
                self.warned_skew = true;
            }
            return;
        }
        self.anchor = Some((ext, ntp));
        self.source = ClockSource::SenderReport;
    }

    /// Wall-clock NTP of extended RTP time `ts` by the current anchor, without touching any
    /// state (`None` before the first frame).
    pub fn map(&self, ts: i64) -> Option<u64> {
        let (ats, antp) = self.anchor?;
        Some(ntp_add_ticks(antp, ts - ats, self.clock_rate))
    }

    /// The clock rate.
    pub fn clock_rate(&self) -> u32 {
        self.clock_rate
    }

    /// The extended RTP time of the last frame timed ([`wall`](Self::wall)), if any.
    pub fn last_ts(&self) -> Option<i64> {
        self.last_ts
    }

    /// The extended RTP time that the current anchor puts at wall-clock `ntp` (the inverse
    /// of [`map`](Self::map)); `None` before the first frame.
    pub fn ts_at(&self, ntp: u64) -> Option<i64> {
        let (ats, antp) = self.anchor?;
        let units = i128::from(ntp) - i128::from(antp);
        let ticks = (units * i128::from(self.clock_rate)) >> 32;
        i64::try_from(i128::from(ats) + ticks).ok()
    }

    /// Wall-clock NTP of the frame with extended RTP time `ts`, received at `received`.
    pub fn wall(&mut self, ts: i64, received: u64) -> u64 {
        self.last_ts = Some(ts);
        match self.anchor {
            Some((ats, antp)) => {
                let w = ntp_add_ticks(antp, ts - ats, self.clock_rate);
                if self.source == ClockSource::Receive
                    && ntp_diff_secs(w, received).abs() > self.max_camera_skew.as_secs_f64()
                {
                    self.anchor = Some((ts, received));
                    return received;
                }
                w
            }
            None => {
                self.anchor = Some((ts, received));
                self.source = ClockSource::Receive;
                received
            }
        }
    }
}

/// Extends a 32-bit RTP timestamp to the 64-bit value closest to `near`.
pub fn extend_near(near: i64, ts32: u32) -> i64 {
    let delta = ts32.wrapping_sub(near as u32) as i32;
    near.wrapping_add(i64::from(delta))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = (3_900_000_000u64) << 32;

    #[test]
    fn ntp_round_trip() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_000_000_123);
        let back = ntp_to_system_time(system_time_to_ntp(t));
        let d = back.duration_since(t).unwrap_or_else(|e| e.duration());
        assert!(d < Duration::from_micros(1));
    }

    #[test]
    fn receive_clock_until_sender_report() {
        let mut c = WallClock::new(90_000);
        assert_eq!(c.wall(1000, NOW), NOW);
        // One second of media later, arrival jitter does not matter.
        assert_eq!(c.wall(91_000, NOW + (5 << 32)), NOW + (1 << 32));
        assert_eq!(c.source(), ClockSource::Receive);
        // Camera says: RTP 91_000 was at NOW + 1.5 s.
        c.on_sender_report(NOW + (3 << 31), 91_000, NOW + (1 << 32));
        assert_eq!(c.source(), ClockSource::SenderReport);
        assert_eq!(c.wall(181_000, NOW), NOW + (5 << 31));
    }

    #[test]
    fn map_follows_the_anchor_without_moving_it() {
        let mut c = WallClock::new(90_000);
        assert_eq!(c.map(0), None);
        c.wall(0, NOW);
        assert_eq!(c.map(90_000), Some(NOW + (1 << 32)));
        // The camera's report: RTP 0 was captured half a second before it arrived.
        c.on_sender_report(NOW - (1 << 31), 0, NOW);
        assert_eq!(c.map(0), Some(NOW - (1 << 31)));
        assert_eq!(c.source(), ClockSource::SenderReport);
    }

    #[test]
    fn ts_at_inverts_map() {
        let mut c = WallClock::new(8000);
        assert_eq!(c.ts_at(NOW), None);
        c.wall(1000, NOW);
        assert_eq!(c.ts_at(NOW + (1 << 32)), Some(9000));
        assert_eq!(c.ts_at(NOW - (1 << 31)), Some(-3000));
        assert_eq!(
            c.map(c.ts_at(NOW + 12345).unwrap())
                .map(|n| n.abs_diff(NOW + 12345) < 1 << 20),
            Some(true)
        );
    }

    #[test]
    fn insane_camera_clock_is_ignored() {
        let mut c = WallClock::new(90_000);
        c.wall(0, NOW);
        // A camera that booted in 1970.
        c.on_sender_report(NTP_UNIX_OFFSET_SECS << 32, 0, NOW);
        assert_eq!(c.source(), ClockSource::Receive);
        assert_eq!(c.wall(90_000, NOW), NOW + (1 << 32));
    }

    #[test]
    fn sender_report_timestamp_wraps() {
        assert_eq!(extend_near(0xffff_fff0, 0x10), 0x1_0000_0010);
        assert_eq!(extend_near(0x1_0000_0010, 0xffff_fff0), 0xffff_fff0);
    }

    #[test]
    fn receive_anchor_retaken_after_long_gap() {
        let mut c = WallClock::new(90_000);
        c.wall(0, NOW);
        // Stream resumes an hour later with media time only 1 s on.
        let later = NOW + (3600u64 << 32);
        assert_eq!(c.wall(90_000, later), later);
    }
}

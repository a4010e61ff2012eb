//! 32-bit RTP timestamps extended to 64 bits.
//!
//! RTP timestamps wrap every 2^32 ticks (13.2 hours at 90 kHz), and a recorder runs for
//! months. Each timestamp is taken as the signed 32-bit distance from the previous one, so a
//! wrap forward and a step back across a wrap (B-frames, reordered pictures) both land on the
//! right 64-bit value. Cameras also jump (clock resets, firmware bugs): a jump larger than a
//! bound is logged and accepted, never a panic or an overflow.
//! Covered by `timestamp_wraps_to_64_bits`, `timestamp_steps_back_across_a_wrap` and
//! `timestamp_jump_is_accepted`.

/// Default bound above which a timestamp step is logged: 10 s at 90 kHz.
pub const DEFAULT_MAX_TIMESTAMP_JUMP: u32 = 10 * 90_000;

/// Extends a stream's 32-bit RTP timestamps to 64 bits.
#[derive(Debug, Clone)]
pub struct TimestampExtender {
    last: Option<(u32, i64)>,
    max_jump: u32,
}

impl TimestampExtender {
    /// `max_jump`: steps (either direction) larger than this many ticks are logged with
    /// `log::warn!` and then accepted.
    pub fn new(max_jump: u32) -> Self {
        TimestampExtender {
            last: None,
            max_jump,
        }
    }

    /// Returns the 64-bit value of `ts`. The first timestamp maps to itself (0..2^32).
    pub fn extend(&mut self, ts: u32) -> i64 {
        let extended = match self.last {
            None => i64::from(ts),
            Some((last_ts, last_ext)) => {
                // Signed distance: a wrap in either direction is a small step.
                let delta = ts.wrapping_sub(last_ts) as i32;
                if delta.unsigned_abs() > self.max_jump {
                    log::warn!(
                        "RTP timestamp jumped by {delta} ticks ({last_ts} -> {ts}); accepting it"
                    );
                }
                last_ext.saturating_add(i64::from(delta))
            }
        };
        self.last = Some((ts, extended));
        extended
    }

    /// The last extended timestamp, if any.
    pub fn last(&self) -> Option<i64> {
        self.last.map(|(_, ext)| ext)
    }
}

impl Default for TimestampExtender {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_TIMESTAMP_JUMP)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_wraps_to_64_bits() {
        let mut t = TimestampExtender::default();
        assert_eq!(t.extend(u32::MAX - 3000), i64::from(u32::MAX) - 3000);
        assert_eq!(t.extend(u32::MAX), i64::from(u32::MAX));
        assert_eq!(t.extend(2999), (1i64 << 32) + 2999);
        // A second wrap keeps counting.
        let mut ts = 2999u32;
        let mut expected = (1i64 << 32) + 2999;
        for _ in 0..(1u64 << 32) / 450_000 + 2 {
            ts = ts.wrapping_add(450_000);
            expected += 450_000;
            assert_eq!(t.extend(ts), expected);
        }
        assert!(expected > 2 * (1i64 << 32));
    }

    #[test]
    fn timestamp_steps_back_across_a_wrap() {
        let mut t = TimestampExtender::default();
        t.extend(u32::MAX - 10);
        assert_eq!(t.extend(5), i64::from(u32::MAX) + 6);
        // A reordered picture from before the wrap.
        assert_eq!(t.extend(u32::MAX - 2), i64::from(u32::MAX) - 2);
        assert_eq!(t.last(), Some(i64::from(u32::MAX) - 2));
        // Backwards past zero from the start gives negative values, not a panic.
        let mut t = TimestampExtender::default();
        t.extend(10);
        assert_eq!(t.extend(u32::MAX - 9), -10);
    }

    #[test]
    fn timestamp_jump_is_accepted() {
        let mut t = TimestampExtender::new(1000);
        t.extend(0);
        assert_eq!(t.extend(0x7fff_ffff), 0x7fff_ffff);
        // The largest possible steps, repeatedly, never overflow.
        let mut ts = 0x7fff_ffffu32;
        for _ in 0..10 {
            ts = ts.wrapping_add(0x8000_0000);
            t.extend(ts);
        }
        let before = t.last().unwrap();
        assert_eq!(t.extend(ts.wrapping_add(5)), before + 5);
    }
}

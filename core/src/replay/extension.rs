//! The ONVIF replay RTP header extension (profile 0xABAC, ONVIF Streaming Specification,
//! "RTP header extension"): the wall-clock time of the frame and four flags, carried in the
//! first packet of every access unit of a replayed recording.
//!
//! ```text
//! ext header:  0xABAC | length (words, 3; more when a JPEG extension follows)
//! bytes 0..8:  NTP timestamp (seconds since 1900, then 2^-32 s fraction), big-endian
//! byte 8:      C E D T 0 0 0 0   (C 0x80 clean point, E 0x40 end of a contiguous section,
//!                                 D 0x20 discontinuity, T 0x10 terminal: no more data)
//! byte 9:      low 8 bits of the CSeq of the PLAY that started this data
//! bytes 10-11: padding
//! ```
//!
//! The NTP seconds field is 32 bits wide: era 0 ends at 2036-02-07T06:28:16Z. A time is
//! placed in the era nearest a reference the caller knows (the requested range), so footage
//! from after 2036 keeps its date ([`ReplayExtension::unix_nanos_near`]).

use thiserror::Error;

use crate::rtp::packet::HeaderExtension;

/// The RTP header extension profile of ONVIF replay.
pub const ONVIF_REPLAY_PROFILE: u16 = 0xABAC;

/// Seconds from 1900-01-01 (NTP era 0) to 1970-01-01 (Unix epoch).
pub const NTP_UNIX_OFFSET_SECS: i64 = 2_208_988_800;

/// The clean-point flag (byte 8, bit 7).
pub const FLAG_C: u8 = 0x80;
/// The end-of-section flag (byte 8, bit 6).
pub const FLAG_E: u8 = 0x40;
/// The discontinuity flag (byte 8, bit 5).
pub const FLAG_D: u8 = 0x20;
/// The terminal flag (byte 8, bit 4).
pub const FLAG_T: u8 = 0x10;

/// Why a header extension is not a usable ONVIF replay extension.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ExtensionError {
    /// Another profile (RFC 8285 elements, a vendor's own).
    #[error("RTP header extension profile {0:#06x} is not ONVIF replay (0xabac)")]
    WrongProfile(u16),
    /// Fewer than the 12 bytes (3 words) the extension has.
    #[error("ONVIF replay extension of {0} bytes; at least 12 are needed")]
    TooShort(usize),
}

/// One parsed 0xABAC extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayExtension {
    /// The 64-bit NTP timestamp as sent (seconds since the start of its era << 32 | fraction).
    /// `u64::MAX` is GStreamer's "no timestamp" ([`Self::has_time`]).
    pub ntp: u64,
    /// C: a clean point (decoding can start here: an IDR or I frame).
    pub clean_point: bool,
    /// E: the last access unit before a gap or of the available footage.
    pub end_of_section: bool,
    /// D: a discontinuity in transmission (first packet after a seek, a gap, reverse GOPs).
    pub discontinuity: bool,
    /// T: the terminal frame: no more data for this track.
    pub terminal: bool,
    /// The low 8 bits of the CSeq of the PLAY that started this data.
    pub cseq: u8,
    /// Bits 0..3 of byte 8, which must be zero; kept so a caller can report a device that
    /// sets them.
    pub reserved: u8,
    /// More than 3 words: a JPEG header extension follows (ignored here).
    pub jpeg_extension: bool,
}

impl ReplayExtension {
    /// Parses the extension words `data` of a header extension with profile `profile`.
    /// Never panics: anything too short or of another profile is an [`ExtensionError`].
    pub fn parse(profile: u16, data: &[u8]) -> Result<ReplayExtension, ExtensionError> {
        if profile != ONVIF_REPLAY_PROFILE {
            return Err(ExtensionError::WrongProfile(profile));
        }
        let Some(b) = data.get(..12) else {
            return Err(ExtensionError::TooShort(data.len()));
        };
        let mut ntp = [0u8; 8];
        ntp.copy_from_slice(&b[..8]);
        let flags = b[8];
        Ok(ReplayExtension {
            ntp: u64::from_be_bytes(ntp),
            clean_point: flags & FLAG_C != 0,
            end_of_section: flags & FLAG_E != 0,
            discontinuity: flags & FLAG_D != 0,
            terminal: flags & FLAG_T != 0,
            cseq: b[9],
            reserved: flags & 0x0f,
            jpeg_extension: data.len() > 12,
        })
    }

    /// [`Self::parse`] of an [`HeaderExtension`] from [`crate::rtp::RtpPacket::parse_with_extension`].
    pub fn from_header(ext: &HeaderExtension) -> Result<ReplayExtension, ExtensionError> {
        ReplayExtension::parse(ext.profile, &ext.data)
    }

    /// False when the timestamp is all ones (GStreamer's "no time" convention).
    pub fn has_time(&self) -> bool {
        self.ntp != u64::MAX
    }

    /// The flags as the byte they came in (C, E, D, T in bits 7..4).
    pub fn flags(&self) -> u8 {
        u8::from(self.clean_point) << 7
            | u8::from(self.end_of_section) << 6
            | u8::from(self.discontinuity) << 5
            | u8::from(self.terminal) << 4
    }

    /// The time as Unix nanoseconds, in the NTP era that puts it nearest `reference`
    /// (Unix nanoseconds, e.g. the requested start); `None` without a time.
    pub fn unix_nanos_near(&self, reference: i64) -> Option<i64> {
        self.has_time()
            .then(|| ntp_to_unix_nanos_near(self.ntp, reference))
    }
}

/// A 64-bit NTP timestamp (32-bit seconds within an unknown era, 32-bit fraction) as Unix
/// nanoseconds, choosing the era (…, 0: 1900–2036, 1: 2036–2172, …) whose reading is
/// nearest `reference` (Unix nanoseconds). The fraction is rounded to the nearest
/// nanosecond (GStreamer truncates, which reads a time written from whole nanoseconds back
/// one nanosecond early). Saturates instead of overflowing.
pub fn ntp_to_unix_nanos_near(ntp: u64, reference: i64) -> i64 {
    const ERA: i128 = 1 << 32;
    const NS: i128 = 1_000_000_000;
    let secs = i128::from(ntp >> 32);
    let frac_ns = (i128::from(ntp & 0xffff_ffff) * NS + (1 << 31)) >> 32;
    let reference = i128::from(reference);
    // Nanoseconds since 1900 of the reference, and its era.
    let ref_1900 = reference + i128::from(NTP_UNIX_OFFSET_SECS) * NS;
    let era = ref_1900.div_euclid(ERA * NS);
    let mut best = i128::MAX;
    let mut best_dist = i128::MAX;
    for e in [era - 1, era, era + 1] {
        let unix = (e * ERA + secs - i128::from(NTP_UNIX_OFFSET_SECS)) * NS + frac_ns;
        let dist = (unix - reference).abs();
        if dist < best_dist {
            best = unix;
            best_dist = dist;
        }
    }
    i64::try_from(best).unwrap_or(if best < 0 { i64::MIN } else { i64::MAX })
}

/// Unix nanoseconds as the 64-bit NTP timestamp of its era (the seconds field taken modulo
/// 2^32, as a sender after 2036 writes it). For tests and test peers.
pub fn unix_nanos_to_ntp(unix: i64) -> u64 {
    const NS: i128 = 1_000_000_000;
    let t = i128::from(unix) + i128::from(NTP_UNIX_OFFSET_SECS) * NS;
    let secs = t.div_euclid(NS);
    let sub = t.rem_euclid(NS);
    // Rounded to the nearest 2^-32 s: a reader that rounds gets the nanoseconds back.
    let frac = ((sub << 32) + NS / 2) / NS;
    let (secs, frac) = if frac >> 32 != 0 {
        (secs + 1, 0)
    } else {
        (secs, frac)
    };
    let secs = (secs.rem_euclid(1 << 32)) as u64;
    (secs << 32) | (frac as u64 & 0xffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::RtpPacket;
    use crate::rtp::test_packets::raw_rtp;

    const NS: i64 = 1_000_000_000;

    /// The 12 extension bytes for NTP `ntp`, flags byte `flags`, CSeq `cseq`.
    fn ext(ntp: u64, flags: u8, cseq: u8) -> Vec<u8> {
        let mut v = ntp.to_be_bytes().to_vec();
        v.extend_from_slice(&[flags, cseq, 0, 0]);
        v
    }

    /// A whole RTP packet with the 0xABAC extension (header + 3 words).
    fn packet(ntp: u64, flags: u8, cseq: u8) -> bytes::Bytes {
        let mut e = vec![0xab, 0xac, 0, 3];
        e.extend_from_slice(&ext(ntp, flags, cseq));
        raw_rtp(0x90, 0x80 | 96, 7, 90_000, 1, &e, &[0x65, 1, 2])
    }

    #[test]
    fn parses_time_flags_and_cseq_from_a_packet() {
        // 2026-11-25T10:00:10.5Z.
        let unix = 1_795_600_810 * NS + NS / 2;
        let ntp = unix_nanos_to_ntp(unix);
        let raw = packet(ntp, FLAG_C | FLAG_D, 0x2a);
        let (pkt, header) = RtpPacket::parse_with_extension(raw).expect("packet");
        assert_eq!(&pkt.payload[..], &[0x65, 1, 2]);
        let x = ReplayExtension::from_header(&header.expect("extension")).expect("0xabac");
        assert!(x.clean_point && x.discontinuity);
        assert!(!x.end_of_section && !x.terminal);
        assert_eq!((x.cseq, x.reserved, x.jpeg_extension), (0x2a, 0, false));
        assert_eq!(x.flags(), FLAG_C | FLAG_D);
        assert_eq!(x.unix_nanos_near(unix), Some(unix));
        // 0.5 s is 0x8000_0000 exactly.
        assert_eq!(ntp & 0xffff_ffff, 0x8000_0000);
        assert_eq!(ntp >> 32, (1_795_600_810 + NTP_UNIX_OFFSET_SECS) as u64);
    }

    #[test]
    fn each_flag_bit_is_its_own() {
        for (bit, name) in [(FLAG_C, "C"), (FLAG_E, "E"), (FLAG_D, "D"), (FLAG_T, "T")] {
            let x = ReplayExtension::parse(ONVIF_REPLAY_PROFILE, &ext(1, bit, 0)).expect(name);
            assert_eq!(x.flags(), bit, "{name}");
            assert_eq!(
                [x.clean_point, x.end_of_section, x.discontinuity, x.terminal]
                    .iter()
                    .filter(|b| **b)
                    .count(),
                1,
                "{name}"
            );
        }
        let x = ReplayExtension::parse(ONVIF_REPLAY_PROFILE, &ext(1, 0xff, 0)).expect("all");
        assert_eq!((x.flags(), x.reserved), (0xf0, 0x0f));
    }

    #[test]
    fn other_profiles_and_short_data_are_errors() {
        assert_eq!(
            ReplayExtension::parse(0xbede, &ext(1, 0, 0)),
            Err(ExtensionError::WrongProfile(0xbede))
        );
        for n in 0..12 {
            assert_eq!(
                ReplayExtension::parse(ONVIF_REPLAY_PROFILE, &vec![0; n]),
                Err(ExtensionError::TooShort(n))
            );
        }
        // A JPEG extension appended (length 5 words): the first 12 bytes still count.
        let mut long = ext(9, FLAG_E | FLAG_T, 3);
        long.extend_from_slice(&[0xff, 0xd8, 0, 1, 0, 0, 0, 0]);
        let x = ReplayExtension::parse(ONVIF_REPLAY_PROFILE, &long).expect("jpeg");
        assert!(x.jpeg_extension && x.end_of_section && x.terminal);
    }

    #[test]
    fn no_time_is_all_ones() {
        let x = ReplayExtension::parse(ONVIF_REPLAY_PROFILE, &ext(u64::MAX, 0, 0)).expect("x");
        assert!(!x.has_time());
        assert_eq!(x.unix_nanos_near(0), None);
    }

    #[test]
    fn ntp_era_rollover_in_2036_is_placed_by_the_reference() {
        // Era 0 ends at 2036-02-07T06:28:16Z = Unix 2_085_978_496.
        let rollover = 2_085_978_496 * NS;
        // One second before and one after the rollover, as a sender writes them.
        let before = unix_nanos_to_ntp(rollover - NS);
        let after = unix_nanos_to_ntp(rollover + NS);
        assert_eq!(before >> 32, 0xffff_ffff);
        assert_eq!(after >> 32, 1);
        // Read near the rollover: both land on the right side of it.
        assert_eq!(ntp_to_unix_nanos_near(before, rollover), rollover - NS);
        assert_eq!(ntp_to_unix_nanos_near(after, rollover), rollover + NS);
        // A 2040 recording read with a 2040 reference stays in 2040, not 1904.
        let y2040 = 2_208_988_800 * NS; // 2040-01-01, past the 2036 rollover
        assert_eq!(
            ntp_to_unix_nanos_near(unix_nanos_to_ntp(y2040 + 123), y2040),
            y2040 + 123
        );
        // And a 2026 recording with a 2026 reference stays in 2026.
        let y2026 = 1_795_600_800 * NS;
        assert_eq!(
            ntp_to_unix_nanos_near(unix_nanos_to_ntp(y2026), y2026 + 3600 * NS),
            y2026
        );
        // The 1970 dates of unsynchronised devices too (era 0, reference 1970).
        assert_eq!(
            ntp_to_unix_nanos_near(unix_nanos_to_ntp(195 * NS), 0),
            195 * NS
        );
    }

    #[test]
    fn fractions_round_trip_to_the_nanosecond() {
        let base = 1_795_600_800 * NS;
        for sub in [0, 1, 40_000_000, 520_000_000, 999_999_999, 123_456_789] {
            let t = base + sub;
            assert_eq!(
                ntp_to_unix_nanos_near(unix_nanos_to_ntp(t), base),
                t,
                "{sub}"
            );
        }
    }

    #[test]
    fn extreme_inputs_saturate_without_panicking() {
        for ntp in [0, u64::MAX - 1, 1 << 63] {
            for r in [i64::MIN, i64::MAX, 0, -1] {
                let _ = ntp_to_unix_nanos_near(ntp, r);
            }
        }
        for t in [i64::MIN, i64::MAX, 0] {
            let _ = unix_nanos_to_ntp(t);
        }
    }
}

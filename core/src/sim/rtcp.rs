//! RTCP packets the sim sends (RFC 3550): sender reports, so receivers can map RTP time to
//! wall-clock time, and BYE, so they know the stream ended.
//!
//! Each is sent as a compound packet starting with an SR and carrying an SDES CNAME, as RFC 3550
//! section 6.1 requires.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;
const CNAME: &[u8] = b"camwire-sim";

/// The current system time as a 64-bit NTP timestamp (32.32 fixed point).
pub(crate) fn ntp_now() -> u64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() + NTP_UNIX_OFFSET;
    let frac = (u64::from(d.subsec_nanos()) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

/// Sender-side counters an SR reports.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SenderCounts {
    pub(crate) packets: u32,
    /// Payload octets (RTP headers excluded).
    pub(crate) octets: u32,
}

/// Appends SR + SDES(CNAME) to `out`.
pub(crate) fn sender_report(
    out: &mut Vec<u8>,
    ssrc: u32,
    ntp: u64,
    rtp_timestamp: u32,
    counts: SenderCounts,
) {
    out.extend_from_slice(&[0x80, 200, 0, 6]);
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.extend_from_slice(&ntp.to_be_bytes());
    out.extend_from_slice(&rtp_timestamp.to_be_bytes());
    out.extend_from_slice(&counts.packets.to_be_bytes());
    out.extend_from_slice(&counts.octets.to_be_bytes());
    sdes_cname(out, ssrc);
}

/// Appends SR + SDES + BYE to `out`.
pub(crate) fn bye(
    out: &mut Vec<u8>,
    ssrc: u32,
    ntp: u64,
    rtp_timestamp: u32,
    counts: SenderCounts,
) {
    sender_report(out, ssrc, ntp, rtp_timestamp, counts);
    out.extend_from_slice(&[0x81, 203, 0, 1]);
    out.extend_from_slice(&ssrc.to_be_bytes());
}

/// One SDES chunk with a CNAME item, padded to a 32-bit boundary.
fn sdes_cname(out: &mut Vec<u8>, ssrc: u32) {
    // ssrc (4) + type (1) + length (1) + text + at least one zero byte, rounded up to 4.
    let chunk = (4 + 2 + CNAME.len() + 1).div_ceil(4) * 4;
    let words = (chunk / 4) as u16;
    out.extend_from_slice(&[0x81, 202]);
    out.extend_from_slice(&words.to_be_bytes());
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.push(1);
    out.push(CNAME.len() as u8);
    out.extend_from_slice(CNAME);
    out.resize(out.len() + chunk - (4 + 2 + CNAME.len()), 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Walks a compound packet by its length fields; returns the packet types.
    fn walk(mut p: &[u8]) -> Vec<u8> {
        let mut types = Vec::new();
        while !p.is_empty() {
            assert_eq!(p[0] >> 6, 2);
            let len = (usize::from(u16::from_be_bytes([p[2], p[3]])) + 1) * 4;
            types.push(p[1]);
            p = &p[len..];
        }
        types
    }

    #[test]
    fn sender_report_layout() {
        let mut out = Vec::new();
        let counts = SenderCounts {
            packets: 3,
            octets: 1000,
        };
        sender_report(&mut out, 0xabcd, 0x1122_3344_5566_7788, 90_000, counts);
        assert_eq!(&out[4..8], &0xabcdu32.to_be_bytes());
        assert_eq!(&out[8..16], &0x1122_3344_5566_7788u64.to_be_bytes());
        assert_eq!(&out[16..20], &90_000u32.to_be_bytes());
        assert_eq!(&out[20..24], &3u32.to_be_bytes());
        assert_eq!(&out[24..28], &1000u32.to_be_bytes());
        assert_eq!(walk(&out), vec![200, 202]);
        out.clear();
        bye(&mut out, 1, 0, 0, counts);
        assert_eq!(walk(&out), vec![200, 202, 203]);
    }

    #[test]
    fn ntp_now_is_after_2020() {
        // 2020-01-01 is 3,786,825,600 seconds after 1900.
        assert!(ntp_now() >> 32 > 3_786_825_600);
    }
}

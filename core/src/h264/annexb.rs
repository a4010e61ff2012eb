//! Annex B byte streams: NAL units separated by `00 00 01` / `00 00 00 01` start codes.
//!
//! Cameras put start codes where RFC 6184 says they must not (inside RTP payloads and inside
//! sprop-parameter-sets), and clips on disk are Annex B, so one splitter serves all of them.

use std::ops::Range;

/// Returns the byte ranges of the NAL units in `data`, start codes and the zero bytes that
/// trail a NAL unit (`trailing_zero_8bits`) excluded. Bytes before the first start code are
/// returned as a NAL unit too when there are any (a payload that starts without a start code
/// but contains one later). Empty NAL units are skipped.
pub fn nal_ranges(data: &[u8]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0usize;
    let mut i = 0usize;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            push_trimmed(&mut out, data, start, i);
            i += 3;
            start = i;
        } else {
            i += 1;
        }
    }
    push_trimmed(&mut out, data, start, data.len());
    out
}

/// True when `data` contains a three-byte start code anywhere.
pub fn has_start_code(data: &[u8]) -> bool {
    data.windows(3).any(|w| w == [0, 0, 1])
}

fn push_trimmed(out: &mut Vec<Range<usize>>, data: &[u8], start: usize, mut end: usize) {
    while end > start && data[end - 1] == 0 {
        end -= 1;
    }
    if end > start {
        out.push(start..end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_three_and_four_byte_start_codes() {
        let d = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 4,
        ];
        let r = nal_ranges(&d);
        let nals: Vec<&[u8]> = r.iter().map(|r| &d[r.clone()]).collect();
        assert_eq!(
            nals,
            vec![&[0x67, 1, 2][..], &[0x68, 3][..], &[0x65, 4][..]]
        );
    }

    #[test]
    fn leading_bytes_without_start_code_are_a_nal() {
        let d = [0x41, 9, 9, 0, 0, 1, 0x41, 7];
        let r = nal_ranges(&d);
        assert_eq!(r, vec![0..3, 6..8]);
        assert!(has_start_code(&d));
        assert!(!has_start_code(&d[..3]));
    }

    #[test]
    fn empty_and_zero_only_input() {
        assert!(nal_ranges(&[]).is_empty());
        assert!(nal_ranges(&[0, 0, 0, 0]).is_empty());
        assert!(nal_ranges(&[0, 0, 1]).is_empty());
    }
}

//! `sprop-parameter-sets` from the SDP (RFC 6184 §8.1): comma-separated base64 NAL units.
//!
//! Cameras get it wrong in many ways: start codes inside the decoded data (V380-style,
//! `sprop_with_start_codes`), whitespace and missing padding (`sprop_tolerates_whitespace_and_missing_padding`),
//! or plain garbage (`garbage_sprop_is_an_error`). Garbage is an error so the depacketizer can
//! fall back to the SPS/PPS sent in band (`garbage_sprop_falls_back_to_in_band`).

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use bytes::Bytes;
use thiserror::Error;

use crate::h264::annexb;

/// Standard alphabet; padding optional, stray trailing bits accepted.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Why `sprop-parameter-sets` could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SpropError {
    /// No NAL unit in it.
    #[error("sprop-parameter-sets holds no NAL unit")]
    Empty,
    /// Entry `index` (0-based, comma-separated) is not base64.
    #[error("sprop-parameter-sets entry {index} is not base64: {source}")]
    Base64 {
        /// Which entry.
        index: usize,
        /// The decoder's complaint.
        source: base64::DecodeError,
    },
    /// Entry `index` decoded to something that is not a NAL unit (forbidden bit set or a
    /// NAL type outside 1..=23).
    #[error("sprop-parameter-sets entry {index} is not a NAL unit")]
    InvalidNal {
        /// Which entry.
        index: usize,
    },
}

/// Decodes one comma-separated entry of an sprop list (`sprop-parameter-sets`, and H.265's
/// `sprop-vps`/`-sps`/`-pps`) as cameras write it: whitespace and quotes dropped, the URL-safe
/// alphabet accepted (seen in the wild), padding optional. `None` when nothing is left.
pub(crate) fn decode_sprop_entry(entry: &str) -> Option<Result<Vec<u8>, base64::DecodeError>> {
    let cleaned: String = entry
        .chars()
        .filter(|c| !c.is_ascii_whitespace() && *c != '"')
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    if cleaned.is_empty() {
        return None;
    }
    Some(LENIENT.decode(cleaned.as_bytes()))
}

/// Decodes `sprop-parameter-sets` into NAL units (header byte included, no start codes), in
/// order. Entries containing Annex B start codes are split into their NAL units.
pub fn parse_sprop_parameter_sets(s: &str) -> Result<Vec<Bytes>, SpropError> {
    let mut out = Vec::new();
    for (index, entry) in s.split(',').enumerate() {
        let Some(decoded) = decode_sprop_entry(entry) else {
            continue;
        };
        let decoded = decoded.map_err(|source| SpropError::Base64 { index, source })?;
        let decoded = Bytes::from(decoded);
        for range in annexb::nal_ranges(&decoded) {
            let nal = decoded.slice(range);
            let valid = nal
                .first()
                .is_some_and(|&h| h & 0x80 == 0 && (1..=23).contains(&(h & 0x1f)));
            if !valid {
                return Err(SpropError::InvalidNal { index });
            }
            out.push(nal);
        }
    }
    if out.is_empty() {
        return Err(SpropError::Empty);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPS: &[u8] = &[0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00, 0xa0, 0x47, 0xfe, 0xc8];
    const PPS: &[u8] = &[0x68, 0xce, 0x3c, 0x80];

    fn b64(data: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(data)
    }

    #[test]
    fn sprop_parses_sps_and_pps() {
        let s = format!("{},{}", b64(SPS), b64(PPS));
        assert_eq!(parse_sprop_parameter_sets(&s).unwrap(), vec![SPS, PPS]);
    }

    #[test]
    fn sprop_with_start_codes() {
        // One entry holding both, Annex B framed, as V380-style cameras send it.
        let mut annexb = vec![0, 0, 0, 1];
        annexb.extend_from_slice(SPS);
        annexb.extend_from_slice(&[0, 0, 1]);
        annexb.extend_from_slice(PPS);
        assert_eq!(
            parse_sprop_parameter_sets(&b64(&annexb)).unwrap(),
            vec![SPS, PPS]
        );
        // And a start code in front of each entry.
        let s = format!(
            "{},{}",
            b64(&[&[0, 0, 0, 1], SPS].concat()),
            b64(&[&[0, 0, 1], PPS].concat())
        );
        assert_eq!(parse_sprop_parameter_sets(&s).unwrap(), vec![SPS, PPS]);
    }

    #[test]
    fn sprop_tolerates_whitespace_and_missing_padding() {
        let sps = b64(SPS);
        let pps = b64(PPS);
        let s = format!(
            " {} , {}\r\n,",
            sps.trim_end_matches('='),
            pps.trim_end_matches('=')
        );
        assert_eq!(parse_sprop_parameter_sets(&s).unwrap(), vec![SPS, PPS]);
        let split = format!("{} {}", &sps[..4], &sps[4..]);
        assert_eq!(parse_sprop_parameter_sets(&split).unwrap(), vec![SPS]);
    }

    #[test]
    fn garbage_sprop_is_an_error() {
        assert!(matches!(
            parse_sprop_parameter_sets("not base64!!"),
            Err(SpropError::Base64 { index: 0, .. })
        ));
        assert_eq!(parse_sprop_parameter_sets(""), Err(SpropError::Empty));
        assert_eq!(parse_sprop_parameter_sets(" , ,"), Err(SpropError::Empty));
        // Valid base64 of bytes that are no NAL unit (forbidden bit set).
        let s = format!("{},{}", b64(SPS), b64(&[0xff, 0xfe]));
        assert_eq!(
            parse_sprop_parameter_sets(&s),
            Err(SpropError::InvalidNal { index: 1 })
        );
        // Only zero bytes: no NAL unit at all.
        assert_eq!(
            parse_sprop_parameter_sets(&b64(&[0, 0, 0, 0])),
            Err(SpropError::Empty)
        );
    }
}

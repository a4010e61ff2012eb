//! H.265 SDP fmtp parameters (RFC 7798 §7.1): `sprop-vps`, `sprop-sps`, `sprop-pps` (each a
//! comma-separated list of base64 NAL units), `sprop-max-don-diff`,
//! `sprop-depack-buf-nalus` and `tx-mode`.
//!
//! Field quirks: comma lists (retina accepts one NAL only), a leading Annex B start code in
//! the decoded NAL (gortsplib strips it), whitespace and missing padding
//! (`sprop_lists_are_comma_split_and_start_codes_stripped`); an entry of the wrong NAL type or
//! not base64 is skipped and counted (`sprop_garbage_entries_are_skipped`).

use bytes::Bytes;

use crate::h265::{NalHeader, nal};
use crate::rtp::h264::sprop::decode_sprop_entry;

/// What the SDP says about an H.265 stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct H265Fmtp {
    /// `sprop-vps` NAL units, in order.
    pub vps: Vec<Bytes>,
    /// `sprop-sps` NAL units, in order.
    pub sps: Vec<Bytes>,
    /// `sprop-pps` NAL units, in order.
    pub pps: Vec<Bytes>,
    /// `sprop-max-don-diff` (0 when absent): > 0 means DONL fields are present.
    pub max_don_diff: u32,
    /// `sprop-depack-buf-nalus` (0 when absent): > 0 also means DONL fields (FFmpeg).
    pub depack_buf_nalus: u32,
    /// `tx-mode` (`SRST` when absent).
    pub tx_mode: Option<String>,
    /// sprop entries that were not base64 or not a NAL unit of the key's type; skipped.
    pub rejected_entries: u32,
}

impl H265Fmtp {
    /// Parses an `a=fmtp` value (without `a=fmtp:<pt> `). Keys are case-insensitive; empty
    /// entries and unknown keys are ignored. Never fails: what is unusable is counted in
    /// [`rejected_entries`](Self::rejected_entries).
    pub fn parse(fmtp: &str) -> H265Fmtp {
        let mut out = H265Fmtp::default();
        for (key, value) in fmtp_pairs(fmtp) {
            match key.to_ascii_lowercase().as_str() {
                "sprop-vps" => out.vps = out.decode_list(value, nal::VPS),
                "sprop-sps" => out.sps = out.decode_list(value, nal::SPS),
                "sprop-pps" => out.pps = out.decode_list(value, nal::PPS),
                "sprop-max-don-diff" => out.max_don_diff = value.trim().parse().unwrap_or(0),
                "sprop-depack-buf-nalus" => {
                    out.depack_buf_nalus = value.trim().parse().unwrap_or(0)
                }
                "tx-mode" => out.tx_mode = Some(value.trim().to_owned()),
                _ => {}
            }
        }
        out
    }

    /// True when packets carry DONL/DOND fields (interleaved or multi-session transmission),
    /// which camwire refuses rather than reorders (`donl_stream_is_refused`).
    pub fn has_donl(&self) -> bool {
        self.max_don_diff > 0
            || self.depack_buf_nalus > 0
            || self
                .tx_mode
                .as_deref()
                .is_some_and(|m| !m.eq_ignore_ascii_case("SRST"))
    }

    fn decode_list(&mut self, value: &str, want: u8) -> Vec<Bytes> {
        let mut out = Vec::new();
        for entry in value.split(',') {
            let Some(decoded) = decode_sprop_entry(entry) else {
                continue;
            };
            let Ok(decoded) = decoded else {
                self.rejected_entries += 1;
                continue;
            };
            let nal = strip_start_code(&decoded);
            match NalHeader::parse(nal) {
                Ok(h) if h.nal_type == want => out.push(Bytes::copy_from_slice(nal)),
                _ => self.rejected_entries += 1,
            }
        }
        out
    }
}

/// `key=value` pairs of an fmtp line: `;`-separated, whitespace trimmed, empty entries
/// skipped; a key without `=` has an empty value.
pub fn fmtp_pairs(fmtp: &str) -> impl Iterator<Item = (&str, &str)> {
    fmtp.split(';').filter_map(|p| {
        let p = p.trim();
        if p.is_empty() {
            return None;
        }
        Some(match p.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => (p, ""),
        })
    })
}

/// Drops a leading `00 00 01` / `00 00 00 01` start code.
fn strip_start_code(d: &[u8]) -> &[u8] {
    if let Some(rest) = d.strip_prefix(&[0, 0, 0, 1]) {
        rest
    } else if let Some(rest) = d.strip_prefix(&[0, 0, 1]) {
        rest
    } else {
        d
    }
}

//! The few SDP facts camwire needs from a DESCRIBE answer or a capture's `.sdp` file.
//!
//! retina parses the SDP for its own session setup; we read the media sections ourselves
//! because the recorder needs the raw `sprop-parameter-sets` (retina rejects streams whose
//! sprop is garbage, and cameras send garbage) and `camwire replay` has no RTSP session at
//! all. Parsing is line based, bounded by [`MAX_SDP_BYTES`], and never fails on unknown
//! lines: cameras add plenty of those.

use thiserror::Error;

/// SDP bodies larger than this are refused (cameras send a few hundred bytes).
pub const MAX_SDP_BYTES: usize = 64 * 1024;

/// Why an SDP could not be used.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SdpError {
    /// The body is over [`MAX_SDP_BYTES`].
    #[error("SDP is {0} bytes, over the {MAX_SDP_BYTES}-byte limit")]
    TooLarge(usize),
    /// No `m=video` section with an H.264 payload.
    #[error("SDP has no H.264 video section")]
    NoH264Video,
}

/// One `m=` section.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MediaSection {
    /// Position among the `m=` lines (0-based); in a capture it owns channels 2i and 2i+1.
    pub index: usize,
    /// `video`, `audio`, `application`, ...
    pub media: String,
    /// The first payload type listed on the `m=` line.
    pub payload_type: u8,
    /// Encoding name from `a=rtpmap` (e.g. `H264`), upper-cased.
    pub encoding: String,
    /// Clock rate from `a=rtpmap`; 90000 when absent for video.
    pub clock_rate: u32,
    /// Channel count from `a=rtpmap` (`PCMA/8000/2`), when given.
    pub channels: Option<u16>,
    /// `a=fmtp` parameters for the payload type, as `key=value` pairs in order.
    pub fmtp: Vec<(String, String)>,
    /// `a=control` value, if any.
    pub control: Option<String>,
    /// `a=framerate` value, if any.
    pub framerate: Option<f64>,
}

impl MediaSection {
    /// Value of a fmtp parameter, matched case-insensitively (cameras vary the case).
    pub fn fmtp_param(&self, key: &str) -> Option<&str> {
        self.fmtp
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// True for an H.264 video section.
    pub fn is_h264(&self) -> bool {
        self.media == "video" && self.encoding == "H264"
    }
}

/// Parses every `m=` section of `sdp`.
pub fn media_sections(sdp: &[u8]) -> Result<Vec<MediaSection>, SdpError> {
    if sdp.len() > MAX_SDP_BYTES {
        return Err(SdpError::TooLarge(sdp.len()));
    }
    let text = String::from_utf8_lossy(sdp);
    let mut out: Vec<MediaSection> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(m) = line.strip_prefix("m=") {
            let mut it = m.split_whitespace();
            let media = it.next().unwrap_or_default().to_ascii_lowercase();
            let payload_type = it.nth(2).and_then(|p| p.parse().ok()).unwrap_or(0);
            out.push(MediaSection {
                index: out.len(),
                media,
                payload_type,
                ..Default::default()
            });
            continue;
        }
        let Some(cur) = out.last_mut() else { continue };
        if let Some(v) = line.strip_prefix("a=rtpmap:") {
            let (pt, rest) = split_pt(v);
            if pt == Some(cur.payload_type) {
                let mut parts = rest.split('/');
                cur.encoding = parts.next().unwrap_or_default().trim().to_ascii_uppercase();
                cur.clock_rate = parts
                    .next()
                    .and_then(|c| c.trim().parse().ok())
                    .unwrap_or(0);
                cur.channels = parts.next().and_then(|c| c.trim().parse().ok());
            }
        } else if let Some(v) = line.strip_prefix("a=fmtp:") {
            let (pt, rest) = split_pt(v);
            // Hikvision puts `a=fmtp:97` under `a=rtpmap:104 MPEG4-GENERIC/16000`: a section's
            // only fmtp is used even when its payload type does not match (a matching one
            // wins: it replaces what a mismatched line gave).
            let matches = pt == Some(cur.payload_type);
            if matches || cur.fmtp.is_empty() {
                if !matches {
                    log::debug!(
                        "fmtp for payload type {pt:?} under an m= line of payload type {}: used",
                        cur.payload_type
                    );
                }
                cur.fmtp = rest
                    .split(';')
                    .filter_map(|kv| {
                        let kv = kv.trim();
                        if kv.is_empty() {
                            return None;
                        }
                        // Values (base64) may contain '='; split at the first one only.
                        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                        Some((k.trim().to_string(), v.trim().to_string()))
                    })
                    .collect();
            }
        } else if let Some(v) = line.strip_prefix("a=control:") {
            cur.control = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("a=framerate:") {
            cur.framerate = v.trim().parse().ok();
        }
    }
    for s in &mut out {
        if s.encoding.is_empty()
            && let Some((enc, rate)) = static_payload_type(s.payload_type)
        {
            s.encoding = enc.to_string();
            s.clock_rate = rate;
        }
        if s.clock_rate == 0 && s.media == "video" {
            s.clock_rate = 90_000;
        }
    }
    Ok(out)
}

/// RFC 3551's static payload types (used when a camera sends no `a=rtpmap` for them).
fn static_payload_type(pt: u8) -> Option<(&'static str, u32)> {
    Some(match pt {
        0 => ("PCMU", 8000),
        3 => ("GSM", 8000),
        4 => ("G723", 8000),
        5 => ("DVI4", 8000),
        6 => ("DVI4", 16000),
        7 => ("LPC", 8000),
        8 => ("PCMA", 8000),
        9 => ("G722", 8000),
        10 | 11 => ("L16", 44100),
        12 => ("QCELP", 8000),
        13 => ("CN", 8000),
        14 => ("MPA", 90000),
        15 => ("G728", 8000),
        16 => ("DVI4", 11025),
        17 => ("DVI4", 22050),
        18 => ("G729", 8000),
        25 => ("CELB", 90000),
        26 => ("JPEG", 90000),
        28 => ("NV", 90000),
        31 => ("H261", 90000),
        32 => ("MPV", 90000),
        33 => ("MP2T", 90000),
        34 => ("H263", 90000),
        _ => return None,
    })
}

/// The first H.264 video section.
pub fn h264_section(sdp: &[u8]) -> Result<MediaSection, SdpError> {
    media_sections(sdp)?
        .into_iter()
        .find(MediaSection::is_h264)
        .ok_or(SdpError::NoH264Video)
}

fn split_pt(v: &str) -> (Option<u8>, &str) {
    let v = v.trim_start();
    let end = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    (v[..end].parse().ok(), v[end..].trim_start())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HIKVISION_STYLE: &str = "v=0\r\no=- 1 1 IN IP4 192.168.1.64\r\ns=Media Presentation\r\n\
        t=0 0\r\na=control:*\r\nm=video 0 RTP/AVP 96\r\nc=IN IP4 0.0.0.0\r\nb=AS:4096\r\n\
        a=recvonly\r\na=x-dimensions:1920,1080\r\na=control:trackID=1\r\n\
        a=rtpmap:96 H264/90000\r\n\
        a=fmtp:96 profile-level-id=420029; packetization-mode=1; sprop-parameter-sets=Z01AKI2NQDwBE/LNwEBAQIA=,aO44gA==\r\n\
        m=audio 0 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=control:trackID=2\r\n";

    #[test]
    fn parses_video_and_audio_sections() {
        let s = media_sections(HIKVISION_STYLE.as_bytes()).unwrap();
        assert_eq!(s.len(), 2);
        assert!(s[0].is_h264());
        assert_eq!(s[0].clock_rate, 90_000);
        assert_eq!(s[0].control.as_deref(), Some("trackID=1"));
        assert_eq!(
            s[0].fmtp_param("SPROP-parameter-sets"),
            Some("Z01AKI2NQDwBE/LNwEBAQIA=,aO44gA==")
        );
        assert_eq!(s[0].fmtp_param("packetization-mode"), Some("1"));
        assert_eq!(s[1].index, 1);
        assert_eq!(s[1].encoding, "PCMA");
        assert_eq!(h264_section(HIKVISION_STYLE.as_bytes()).unwrap().index, 0);
    }

    /// Hikvision: `a=fmtp:97` under `m=audio 0 RTP/AVP 104` (mediamtx #3669): the section's
    /// only fmtp is used; a matching one still wins.
    #[test]
    fn hikvision_fmtp_payload_type_mismatch() {
        let sdp = b"m=audio 0 RTP/AVP 104\r\na=rtpmap:104 MPEG4-GENERIC/16000/1\r\n\
            a=fmtp:97 streamtype=5;mode=AAC-hbr;config=1408;sizelength=13\r\n";
        let s = media_sections(sdp).unwrap();
        assert_eq!(s[0].fmtp_param("config"), Some("1408"));
        assert_eq!((s[0].clock_rate, s[0].channels), (16_000, Some(1)));
        let sdp = b"m=audio 0 RTP/AVP 104\na=fmtp:97 config=1408\na=fmtp:104 config=1210\n";
        assert_eq!(
            media_sections(sdp).unwrap()[0].fmtp_param("config"),
            Some("1210")
        );
        let sdp = b"m=audio 0 RTP/AVP 104\na=fmtp:104 config=1210\na=fmtp:97 config=1408\n";
        assert_eq!(
            media_sections(sdp).unwrap()[0].fmtp_param("config"),
            Some("1210")
        );
    }

    #[test]
    fn lowercase_encoding_and_missing_rtpmap_clock() {
        let sdp = b"m=video 0 RTP/AVP 97\na=rtpmap:97 h264\na=fmtp:97 packetization-mode=1\n";
        let s = h264_section(sdp).unwrap();
        assert_eq!(s.payload_type, 97);
        assert_eq!(s.clock_rate, 90_000);
    }

    #[test]
    fn static_payload_types_without_rtpmap() {
        let s = media_sections(b"m=audio 0 RTP/AVP 0\nm=audio 0 RTP/AVP 8\nm=video 0 RTP/AVP 26\n")
            .unwrap();
        assert_eq!((s[0].encoding.as_str(), s[0].clock_rate), ("PCMU", 8000));
        assert_eq!((s[1].encoding.as_str(), s[1].clock_rate), ("PCMA", 8000));
        assert_eq!((s[2].encoding.as_str(), s[2].clock_rate), ("JPEG", 90000));
    }

    #[test]
    fn no_video_and_oversized() {
        assert_eq!(
            h264_section(b"m=audio 0 RTP/AVP 0\n"),
            Err(SdpError::NoH264Video)
        );
        let big = vec![b'a'; MAX_SDP_BYTES + 1];
        assert_eq!(
            media_sections(&big),
            Err(SdpError::TooLarge(MAX_SDP_BYTES + 1))
        );
    }

    #[test]
    fn garbage_never_panics() {
        for s in [
            "m=",
            "m=video",
            "a=fmtp:",
            "m=video 0 RTP/AVP x\na=rtpmap:\na=fmtp:96",
        ] {
            let _ = media_sections(s.as_bytes());
        }
    }
}

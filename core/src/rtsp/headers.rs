//! The RTSP header values a client reads: `Session`, `Transport`, `RTP-Info`, `Public`, and
//! the DESCRIBE base URL with its control URLs (RFC 2326 §12, appendix C.1.1).
//!
//! Parsing is tolerant where cameras are known to deviate and strict only where a wrong guess
//! would break the session.

use super::msg::Headers;
use std::net::IpAddr;
use thiserror::Error;
use url::Url;

/// A header value the client cannot work with.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HeaderError {
    /// The header is required but absent.
    #[error("missing {0} header")]
    Missing(&'static str),
    /// The header does not parse.
    #[error("unparseable {0} header")]
    Bad(&'static str),
}

/// The `Session` header: id and the optional `timeout=` (seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionHeader {
    /// Session id, sent back on every later request.
    pub id: String,
    /// `timeout=` in seconds when given (RFC 2326's default is 60).
    pub timeout: Option<u32>,
}

impl SessionHeader {
    /// The timeout to keep alive against: the given one, or RFC 2326's 60 s.
    pub fn timeout_secs(&self) -> u32 {
        self.timeout.unwrap_or(60)
    }
}

/// Parses `Session: id[;timeout=n][;other]`. A zero or unparseable timeout is ignored
/// (keepalives then follow the 60 s default).
pub fn parse_session(v: &str) -> Result<SessionHeader, HeaderError> {
    let mut parts = v.split(';');
    let id = parts.next().unwrap_or("").trim();
    if id.is_empty() {
        return Err(HeaderError::Bad("Session"));
    }
    let mut timeout = None;
    for p in parts {
        let Some((k, val)) = p.split_once('=') else {
            continue;
        };
        if k.trim().eq_ignore_ascii_case("timeout") {
            timeout = val.trim().parse().ok().filter(|&t: &u32| t > 0);
        }
    }
    Ok(SessionHeader {
        id: id.to_string(),
        timeout,
    })
}

/// What the server chose in the SETUP answer's `Transport`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransportReply {
    /// Interleaved channels (RTP, RTCP).
    pub interleaved: Option<(u8, u8)>,
    /// The server's SSRC when it gave a usable one (advisory: packets decide).
    pub ssrc: Option<u32>,
    /// Server UDP ports (RTP, RTCP).
    pub server_port: Option<(u16, u16)>,
    /// Client UDP ports the server will send to.
    pub client_port: Option<(u16, u16)>,
    /// Source address of the media, when not the RTSP peer.
    pub source: Option<IpAddr>,
}

/// An SSRC as cameras write it: eight hex digits per RFC 2326, but also fewer (Hikvision
/// drops leading zeros, with a leading space), `0x`-prefixed (Rubetek), or decimal when there
/// are more than eight digits (no hex SSRC has that many). Four digits or fewer are ignored:
/// cameras that send 16-bit values there carry a different SSRC in their packets.
pub fn parse_ssrc(v: &str) -> Option<u32> {
    let v = v.trim().trim_matches('"');
    let (digits, prefixed) = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(d) => (d, true),
        None => (v, false),
    };
    if digits.len() <= 4 {
        return None;
    }
    if digits.len() <= 8 || prefixed {
        return u32::from_str_radix(digits, 16).ok();
    }
    if digits.bytes().all(|c| c.is_ascii_digit()) {
        return digits.parse().ok();
    }
    // Zero-padded hex longer than eight digits.
    let trimmed = digits.trim_start_matches('0');
    (trimmed.len() <= 8)
        .then(|| u32::from_str_radix(trimmed, 16).ok())
        .flatten()
}

fn port_pair(v: &str) -> Option<(u16, u16)> {
    match v.split_once('-') {
        Some((a, b)) => Some((a.trim().parse().ok()?, b.trim().parse().ok()?)),
        None => {
            let a: u16 = v.trim().parse().ok()?;
            Some((a, a.checked_add(1)?))
        }
    }
}

/// Parses the SETUP answer's `Transport` (the first spec when there are several).
pub fn parse_transport(v: &str) -> Result<TransportReply, HeaderError> {
    let spec = v.split(',').next().unwrap_or("");
    let mut out = TransportReply::default();
    for part in spec.split(';') {
        let part = part.trim();
        let Some((k, val)) = part.split_once('=') else {
            continue;
        };
        let k = k.trim().to_ascii_lowercase();
        match k.as_str() {
            "interleaved" => {
                let (a, b) = match val.split_once('-') {
                    Some((a, b)) => (a.trim().parse::<u8>(), b.trim().parse::<u8>()),
                    None => {
                        let a = val.trim().parse::<u8>();
                        let b = a.clone().map(|a| a.wrapping_add(1));
                        (a, b)
                    }
                };
                match (a, b) {
                    (Ok(a), Ok(b)) => out.interleaved = Some((a, b)),
                    _ => return Err(HeaderError::Bad("Transport")),
                }
            }
            "ssrc" => out.ssrc = parse_ssrc(val),
            "server_port" => out.server_port = port_pair(val),
            "client_port" => out.client_port = port_pair(val),
            "source" => out.source = val.trim().parse().ok(),
            _ => {}
        }
    }
    Ok(out)
}

/// One stream's entry of `RTP-Info`; `seq` and `rtptime` may each be missing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RtpInfo {
    /// `url=` as sent.
    pub url: Option<String>,
    /// First sequence number.
    pub seq: Option<u16>,
    /// RTP time of the PLAY range start.
    pub rtptime: Option<u32>,
}

/// Parses `RTP-Info`. Unparseable values are dropped, never an error: the packets carry the
/// same facts. `ssrc=` is not read (RTSP/1.0 has none; servers disagree on its radix).
pub fn parse_rtp_info(v: &str) -> Vec<RtpInfo> {
    let mut out = Vec::new();
    // URLs may contain commas only in theory; split on ",url=" boundaries by splitting on ','
    // and gluing pieces that do not start a new entry.
    let mut entries: Vec<String> = Vec::new();
    for piece in v.split(',') {
        let t = piece.trim_start();
        if t.to_ascii_lowercase().starts_with("url=") || entries.is_empty() {
            entries.push(t.to_string());
        } else if let Some(last) = entries.last_mut() {
            last.push(',');
            last.push_str(piece);
        }
    }
    for e in entries {
        let mut info = RtpInfo::default();
        for part in e.split(';') {
            let Some((k, val)) = part.split_once('=') else {
                continue;
            };
            let val = val.trim();
            match k.trim().to_ascii_lowercase().as_str() {
                "url" => info.url = Some(val.to_string()),
                "seq" => info.seq = val.parse().ok(),
                "rtptime" => info.rtptime = val.parse().ok(),
                _ => {}
            }
        }
        out.push(info);
    }
    out
}

/// Methods listed in `Public`.
pub fn public_methods(h: &Headers) -> Vec<String> {
    h.get_all("Public")
        .flat_map(|v| v.split(','))
        .map(|m| m.trim().to_ascii_uppercase())
        .filter(|m| !m.is_empty())
        .collect()
}

/// The base URL of a DESCRIBE answer: `Content-Base`, then `Content-Location`, then the request
/// URL. A value without a scheme (Anjvision) gets the request URL's scheme.
pub fn base_url(request: &Url, headers: &Headers) -> Url {
    for name in ["Content-Base", "Content-Location"] {
        let Some(v) = headers.get(name) else { continue };
        let v = v.trim();
        if let Ok(u) = Url::parse(v)
            && u.has_host()
        {
            return u;
        }
        if let Ok(u) = Url::parse(&format!("{}://{v}", request.scheme())) {
            return u;
        }
        if let Ok(u) = request.join(v) {
            return u;
        }
    }
    request.clone()
}

/// Joins an SDP `a=control` value to the base URL the way live555 and ffmpeg do: `*` is the
/// base itself, an absolute URL stands alone, anything else is appended after a `/`.
pub fn join_control(base: &Url, control: &str) -> Option<Url> {
    let control = control.trim();
    if control == "*" || control.is_empty() {
        return Some(base.clone());
    }
    if let Ok(abs) = Url::parse(control)
        && abs.has_host()
    {
        return Some(abs);
    }
    let sep = if base.as_str().ends_with('/') {
        ""
    } else {
        "/"
    };
    let joined = format!("{}{sep}{control}", base.as_str());
    Url::parse(&joined).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_with_and_without_timeout() {
        assert_eq!(
            parse_session("708345999;timeout=60").unwrap(),
            SessionHeader {
                id: "708345999".into(),
                timeout: Some(60)
            }
        );
        let s = parse_session(" 5657612475258969210").unwrap();
        assert_eq!(s.timeout, None);
        assert_eq!(s.timeout_secs(), 60);
        assert_eq!(
            parse_session("abc; Timeout = 30").unwrap().timeout,
            Some(30)
        );
        assert_eq!(parse_session("abc;timeout=0").unwrap().timeout, None);
        assert!(parse_session(";timeout=5").is_err());
    }

    #[test]
    fn ssrc_forms() {
        assert_eq!(parse_ssrc("4cacc3d1"), Some(0x4cac_c3d1));
        assert_eq!(parse_ssrc(" d6d6627"), Some(0x0d6d_6627));
        assert_eq!(parse_ssrc("0x1234abcd"), Some(0x1234_abcd));
        assert_eq!(parse_ssrc("0x6f7c"), None);
        assert_eq!(parse_ssrc("A046"), None);
        assert_eq!(parse_ssrc("4294962989"), Some(4_294_962_989));
        assert_eq!(parse_ssrc("00000000DEADBEEF"), Some(0xdead_beef));
        assert_eq!(parse_ssrc("zzzzzz"), None);
    }

    #[test]
    fn transport_reply() {
        let t = parse_transport("RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=4cacc3d1;mode=\"play\"")
            .unwrap();
        assert_eq!(t.interleaved, Some((0, 1)));
        assert_eq!(t.ssrc, Some(0x4cac_c3d1));
        let u = parse_transport(
            "RTP/AVP;unicast;client_port=5000-5001;server_port=6970-6971;source=10.0.0.2",
        )
        .unwrap();
        assert_eq!(u.server_port, Some((6970, 6971)));
        assert_eq!(u.client_port, Some((5000, 5001)));
        assert_eq!(u.source, Some("10.0.0.2".parse().unwrap()));
        assert!(parse_transport("RTP/AVP/TCP;interleaved=x-y").is_err());
    }

    #[test]
    fn rtp_info_missing_seq_or_rtptime() {
        let v = parse_rtp_info("url=rtsp://h/t1;seq=5, url=trackID=2;rtptime=900");
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].seq, Some(5));
        assert_eq!(v[0].rtptime, None);
        assert_eq!(v[1].url.as_deref(), Some("trackID=2"));
        assert_eq!(v[1].seq, None);
        assert_eq!(v[1].rtptime, Some(900));
        let bad = parse_rtp_info("url=x;seq=abc;rtptime=");
        assert_eq!(bad[0].seq, None);
    }

    #[test]
    fn base_and_control_urls() {
        let req = Url::parse("rtsp://cam/live").unwrap();
        let mut h = Headers::default();
        assert_eq!(base_url(&req, &h), req);
        h.push("Content-Location", "rtsp://cam/loc/");
        assert_eq!(base_url(&req, &h).as_str(), "rtsp://cam/loc/");
        h.push("Content-Base", "cam:554/base/");
        assert_eq!(base_url(&req, &h).as_str(), "rtsp://cam:554/base/");
        let base = Url::parse("rtsp://cam/base/").unwrap();
        assert_eq!(join_control(&base, "*").unwrap(), base);
        assert_eq!(
            join_control(&base, "trackID=1").unwrap().as_str(),
            "rtsp://cam/base/trackID=1"
        );
        let nos = Url::parse("rtsp://cam/live.sdp").unwrap();
        assert_eq!(
            join_control(&nos, "track1").unwrap().as_str(),
            "rtsp://cam/live.sdp/track1"
        );
        assert_eq!(
            join_control(&nos, "rtsp://other:8554/x/track2")
                .unwrap()
                .as_str(),
            "rtsp://other:8554/x/track2"
        );
    }
}

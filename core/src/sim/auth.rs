//! HTTP Digest authentication (RFC 2617, MD5, with `qop=auth` and without qop) as an IP camera
//! does it for RTSP, so clients exercise their 401 path against the sim.
//!
//! The nonce belongs to one TCP connection: it is issued with the first 401 and every
//! `Authorization` header on that connection must carry it. A nonce from elsewhere gets a 401
//! with `stale=TRUE` (the client retries with the new nonce without asking for a password again);
//! a wrong response keeps getting a plain 401, as cameras do.

use md5::{Digest as _, Md5};
use rand::Rng as _;

use super::request::uri_path;

/// The realm the sim announces.
pub(crate) const REALM: &str = "camwire-sim";

/// The configured account.
#[derive(Clone)]
pub(crate) struct DigestAuth {
    username: String,
    password: String,
}

/// The outcome of checking an `Authorization` header.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Allowed,
    /// Right shape, but for a nonce we did not issue on this connection.
    Stale,
    Denied,
}

impl DigestAuth {
    pub(crate) fn new(username: String, password: String) -> Self {
        DigestAuth { username, password }
    }

    /// The `WWW-Authenticate` value of a 401.
    pub(crate) fn challenge(nonce: &str, stale: bool) -> String {
        let mut s =
            format!("Digest realm=\"{REALM}\", nonce=\"{nonce}\", algorithm=MD5, qop=\"auth\"");
        if stale {
            s.push_str(", stale=TRUE");
        }
        s
    }

    /// Checks `authorization` (the header value) for a request with `method` and `request_uri`.
    pub(crate) fn verify(
        &self,
        method: &str,
        request_uri: &str,
        authorization: &str,
        nonce: &str,
    ) -> Verdict {
        let Some(params) = authorization
            .trim_start()
            .strip_prefix("Digest")
            .or_else(|| authorization.trim_start().strip_prefix("digest"))
        else {
            return Verdict::Denied;
        };
        let params = parse_params(params);
        let get = |k: &str| {
            params
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.as_str())
        };
        let (Some(username), Some(realm), Some(their_nonce), Some(uri), Some(response)) = (
            get("username"),
            get("realm"),
            get("nonce"),
            get("uri"),
            get("response"),
        ) else {
            return Verdict::Denied;
        };
        if let Some(alg) = get("algorithm")
            && !alg.eq_ignore_ascii_case("MD5")
        {
            return Verdict::Denied;
        }
        // The digest's uri must name the resource requested (clients differ on whether they
        // repeat the full URL or just the path, so compare paths when the strings differ).
        if uri != request_uri && uri_path(uri) != uri_path(request_uri) {
            return Verdict::Denied;
        }
        if username != self.username || realm != REALM {
            return Verdict::Denied;
        }
        let qop = match get("qop") {
            None => None,
            Some(q) if q.eq_ignore_ascii_case("auth") => match (get("nc"), get("cnonce")) {
                (Some(nc), Some(cnonce)) => Some((nc, cnonce)),
                _ => return Verdict::Denied,
            },
            Some(_) => return Verdict::Denied,
        };
        let expected = digest_response(
            username,
            realm,
            &self.password,
            method,
            uri,
            their_nonce,
            qop,
        );
        if !constant_time_eq(
            expected.as_bytes(),
            response.to_ascii_lowercase().as_bytes(),
        ) {
            return Verdict::Denied;
        }
        if their_nonce != nonce {
            return Verdict::Stale;
        }
        Verdict::Allowed
    }
}

/// A fresh random nonce (128 bits, hex).
pub(crate) fn new_nonce() -> String {
    let n: u128 = rand::thread_rng().r#gen();
    format!("{n:032x}")
}

/// The RFC 2617 `response` value: with `qop=auth` when `qop` is `Some((nc, cnonce))`.
pub(crate) fn digest_response(
    username: &str,
    realm: &str,
    password: &str,
    method: &str,
    uri: &str,
    nonce: &str,
    qop: Option<(&str, &str)>,
) -> String {
    let ha1 = md5_hex(&format!("{username}:{realm}:{password}"));
    let ha2 = md5_hex(&format!("{method}:{uri}"));
    match qop {
        Some((nc, cnonce)) => md5_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")),
        None => md5_hex(&format!("{ha1}:{nonce}:{ha2}")),
    }
}

fn md5_hex(s: &str) -> String {
    let d = Md5::digest(s.as_bytes());
    let mut out = String::with_capacity(32);
    for b in d {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 0xf)]));
    }
    out
}

/// Compares without an early exit, so response timing does not reveal a matching prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Parses `k=v, k="quoted, with \" escapes"` auth parameters. Malformed input yields what
/// could be read; verification then fails on missing fields.
fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() && chars.peek().is_none() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            while chars.peek().is_some_and(|c| *c == ' ') {
                chars.next();
            }
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => {
                            if let Some(n) = chars.next() {
                                value.push(n);
                            }
                        }
                        c => value.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
            }
        } else if chars.peek().is_none() && key.trim().is_empty() {
            break;
        }
        out.push((key.trim().to_owned(), value.trim().to_owned()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of RFC 2617 section 3.5.
    #[test]
    fn rfc2617_example_vector() {
        let r = digest_response(
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
            "GET",
            "/dir/index.html",
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            Some(("00000001", "0a4f113b")),
        );
        assert_eq!(r, "6629fae49393a05397450978507c4ef1");
    }

    fn header(uri: &str, nonce: &str, response: &str, qop: bool) -> String {
        let mut h = format!(
            "Digest username=\"admin\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\""
        );
        if qop {
            h.push_str(", qop=auth, nc=00000001, cnonce=\"abc\"");
        }
        h
    }

    #[test]
    fn verifies_with_and_without_qop() {
        let auth = DigestAuth::new("admin".into(), "secret".into());
        let uri = "rtsp://127.0.0.1:8554/stream";
        let nonce = new_nonce();
        let with = digest_response(
            "admin",
            REALM,
            "secret",
            "DESCRIBE",
            uri,
            &nonce,
            Some(("00000001", "abc")),
        );
        let without = digest_response("admin", REALM, "secret", "DESCRIBE", uri, &nonce, None);
        assert_eq!(
            auth.verify("DESCRIBE", uri, &header(uri, &nonce, &with, true), &nonce),
            Verdict::Allowed
        );
        assert_eq!(
            auth.verify(
                "DESCRIBE",
                uri,
                &header(uri, &nonce, &without, false),
                &nonce
            ),
            Verdict::Allowed
        );
        // Wrong method, wrong uri, wrong nonce, wrong password.
        assert_eq!(
            auth.verify("SETUP", uri, &header(uri, &nonce, &with, true), &nonce),
            Verdict::Denied
        );
        assert_eq!(
            auth.verify(
                "DESCRIBE",
                "rtsp://127.0.0.1:8554/other",
                &header(uri, &nonce, &with, true),
                &nonce
            ),
            Verdict::Denied
        );
        assert_eq!(
            auth.verify("DESCRIBE", uri, &header(uri, &nonce, &with, true), "other"),
            Verdict::Stale
        );
        let bad = digest_response(
            "admin",
            REALM,
            "guess",
            "DESCRIBE",
            uri,
            &nonce,
            Some(("00000001", "abc")),
        );
        assert_eq!(
            auth.verify("DESCRIBE", uri, &header(uri, &nonce, &bad, true), &nonce),
            Verdict::Denied
        );
        assert_eq!(
            auth.verify("DESCRIBE", uri, "Basic YWRtaW46c2VjcmV0", &nonce),
            Verdict::Denied
        );
        assert_eq!(
            auth.verify("DESCRIBE", uri, "Digest ,,,=\"", &nonce),
            Verdict::Denied
        );
    }

    #[test]
    fn parses_quoted_params() {
        let p = parse_params(r#" a="x, \"y\"", b=2 ,c="" "#);
        assert_eq!(
            p,
            vec![
                ("a".into(), "x, \"y\"".into()),
                ("b".into(), "2".into()),
                ("c".into(), "".into())
            ]
        );
    }
}

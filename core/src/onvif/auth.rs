//! Credentials and the two ways cameras want them: WS-Security UsernameToken inside the SOAP
//! header, and HTTP Digest/Basic after a 401.
//!
//! PasswordDigest = Base64(SHA-1(nonce ++ created ++ password)), with `created` in the
//! **camera's** clock: cheap cameras are often hours off (wrong time zone, no NTP), and they
//! reject tokens outside a few minutes of their own time. The offset is measured with
//! GetSystemDateAndTime (see `soap.rs`).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use jiff::Timestamp;
use sha1::{Digest as _, Sha1};

/// The crate-wide camera login (its `Debug`/`Display` never show the password), re-exported
/// here so ONVIF and RTSP take the same type.
pub use crate::credentials::Credentials;

/// `Base64(SHA-1(nonce ++ created ++ password))` as in the WS-Security UsernameToken profile.
pub fn password_digest(nonce: &[u8], created: &str, password: &str) -> String {
    let mut h = Sha1::new();
    h.update(nonce);
    h.update(created.as_bytes());
    h.update(password.as_bytes());
    B64.encode(h.finalize())
}

/// `xsd:dateTime` in UTC with second precision (`2024-01-01T00:00:00Z`): the form every
/// firmware we know parses.
pub fn format_created(t: Timestamp) -> String {
    let dt = t.to_zoned(jiff::tz::TimeZone::UTC).datetime();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

/// The `<wsse:Security>` header block for `creds`, created at `created` (camera clock).
pub fn username_token_header(creds: &Credentials, created: Timestamp, nonce: &[u8; 16]) -> String {
    let created = format_created(created);
    let digest = password_digest(nonce, &created, &creds.password);
    format!(
        concat!(
            r#"<wsse:Security s:mustUnderstand="1" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">"#,
            "<wsse:UsernameToken><wsse:Username>{user}</wsse:Username>",
            r#"<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">{digest}</wsse:Password>"#,
            r#"<wsse:Nonce EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary">{nonce}</wsse:Nonce>"#,
            "<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>"
        ),
        user = super::xml::escape(&creds.username),
        digest = digest,
        nonce = B64.encode(nonce),
        created = created,
    )
}

/// Which HTTP authentication scheme a device accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpAuthScheme {
    /// RFC 7616 Digest with MD5.
    DigestMd5,
    /// RFC 7616 Digest with SHA-256.
    DigestSha256,
    /// RFC 7617 Basic.
    Basic,
}

/// An answer-er for one HTTP challenge, kept per device so later requests can authenticate
/// up front (the nonce count advances on each use).
pub struct HttpAuth {
    client: http_auth::PasswordClient,
    scheme: HttpAuthScheme,
}

impl fmt::Debug for HttpAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpAuth")
            .field("scheme", &self.scheme)
            .finish()
    }
}

impl HttpAuth {
    /// Picks the strongest challenge among all `WWW-Authenticate` values: Digest SHA-256, then
    /// Digest MD5, then Basic. `None` when nothing usable was offered.
    pub fn from_challenges<'a>(values: impl Iterator<Item = &'a str>) -> Option<Self> {
        let mut best: Option<(u8, HttpAuth)> = None;
        for v in values {
            let Ok(challenges) = http_auth::parse_challenges(v) else {
                continue;
            };
            for c in &challenges {
                let candidate = if c.scheme.eq_ignore_ascii_case("Digest") {
                    match http_auth::DigestClient::try_from(c) {
                        Ok(d) => {
                            let (rank, scheme) = match d.algorithm() {
                                http_auth::digest::Algorithm::Sha256 => {
                                    (3, HttpAuthScheme::DigestSha256)
                                }
                                http_auth::digest::Algorithm::Md5 => (2, HttpAuthScheme::DigestMd5),
                                _ => continue,
                            };
                            (
                                rank,
                                HttpAuth {
                                    client: http_auth::PasswordClient::Digest(d),
                                    scheme,
                                },
                            )
                        }
                        Err(_) => continue,
                    }
                } else if c.scheme.eq_ignore_ascii_case("Basic") {
                    match http_auth::BasicClient::try_from(c) {
                        Ok(b) => (
                            1,
                            HttpAuth {
                                client: http_auth::PasswordClient::Basic(b),
                                scheme: HttpAuthScheme::Basic,
                            },
                        ),
                        Err(_) => continue,
                    }
                } else {
                    continue;
                };
                if best.as_ref().is_none_or(|(r, _)| candidate.0 > *r) {
                    best = Some(candidate);
                }
            }
        }
        best.map(|(_, a)| a)
    }

    /// The scheme this answer-er uses.
    pub fn scheme(&self) -> HttpAuthScheme {
        self.scheme
    }

    /// True when the last digest challenge said `stale=true` (nonce expired, password fine).
    pub fn stale(&self) -> bool {
        match &self.client {
            http_auth::PasswordClient::Digest(d) => d.stale(),
            _ => false,
        }
    }

    /// The `Authorization` header value for one request.
    pub fn authorization(
        &mut self,
        creds: &Credentials,
        method: &str,
        uri: &str,
        body: &[u8],
    ) -> Option<String> {
        self.client
            .respond(&http_auth::PasswordParams {
                username: &creds.username,
                password: &creds.password,
                uri,
                method,
                body: Some(body),
            })
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_never_formatted() {
        let c = Credentials::new("admin", "s3cret-pw");
        assert!(!format!("{c:?}").contains("s3cret-pw"));
        assert!(!format!("{c}").contains("s3cret-pw"));
        assert!(format!("{c}").contains("admin"));
        let wrapped = Some(c.clone());
        assert!(!format!("{wrapped:?}").contains("s3cret-pw"));
    }

    #[test]
    fn password_digest_known_vector() {
        // Vector from the WS-Security UsernameToken Profile 1.0 spec discussion, widely used
        // in ONVIF client tests: nonce (base64) "LKqI6G/AikKCQrN0zqZFlg==",
        // created "2010-09-16T07:50:45Z", password "userpassword".
        let nonce = B64.decode("LKqI6G/AikKCQrN0zqZFlg==").unwrap();
        assert_eq!(
            password_digest(&nonce, "2010-09-16T07:50:45Z", "userpassword"),
            "tuOSpGlFlIXsozq4HFNeeGeFLEI="
        );
        // The vector the `soap-server` crate (an independent implementation) checks against.
        let nonce = B64.decode("AAECAwQFBgcICQoLDA0ODw==").unwrap();
        assert_eq!(
            password_digest(&nonce, "2010-09-09T14:18:30.000Z", "userpassword"),
            "QPgtSBfcw764Vty2h0+LsasXgxo="
        );
    }

    #[test]
    fn created_uses_given_clock() {
        let t: Timestamp = "2024-03-05T06:07:08.9Z".parse().unwrap();
        assert_eq!(format_created(t), "2024-03-05T06:07:08Z");
        let header = username_token_header(&Credentials::new("a<b", "pw"), t, &[7u8; 16]);
        assert!(header.contains("<wsse:Username>a&lt;b</wsse:Username>"));
        assert!(header.contains("<wsu:Created>2024-03-05T06:07:08Z</wsu:Created>"));
        assert!(!header.contains(">pw<"));
    }

    #[test]
    fn strongest_challenge_chosen() {
        let md5 = r#"Digest realm="cam", nonce="abc", qop="auth", algorithm=MD5"#;
        let sha = r#"Digest realm="cam", nonce="abc", qop="auth", algorithm=SHA-256"#;
        let basic = r#"Basic realm="cam""#;
        let a = HttpAuth::from_challenges([basic, md5, sha].into_iter()).unwrap();
        assert_eq!(a.scheme(), HttpAuthScheme::DigestSha256);
        let a = HttpAuth::from_challenges([basic, md5].into_iter()).unwrap();
        assert_eq!(a.scheme(), HttpAuthScheme::DigestMd5);
        let a = HttpAuth::from_challenges([basic].into_iter()).unwrap();
        assert_eq!(a.scheme(), HttpAuthScheme::Basic);
        assert!(HttpAuth::from_challenges([r#"Negotiate abc"#].into_iter()).is_none());
    }

    #[test]
    fn digest_md5_response_matches_rfc2617_formula() {
        let mut a = HttpAuth::from_challenges(
            [r#"Digest realm="testrealm@host.com", qop="auth", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#]
                .into_iter(),
        )
        .unwrap();
        let creds = Credentials::new("Mufasa", "Circle Of Life");
        let h = a
            .authorization(&creds, "GET", "/dir/index.html", b"")
            .unwrap();
        let field = |name: &str| -> String {
            let start = h.find(&format!("{name}=")).unwrap() + name.len() + 1;
            let rest = &h[start..];
            let rest = rest.strip_prefix('"').unwrap_or(rest);
            rest.split(['"', ',']).next().unwrap().to_string()
        };
        let md5hex = |s: &str| format!("{:x}", md5::Md5::digest(s.as_bytes()));
        let ha1 = md5hex("Mufasa:testrealm@host.com:Circle Of Life");
        let ha2 = md5hex("GET:/dir/index.html");
        let expected = md5hex(&format!(
            "{ha1}:dcd98b7102dd2f0e8b11d0f600bfb0c093:{}:{}:auth:{ha2}",
            field("nc"),
            field("cnonce")
        ));
        assert_eq!(field("response"), expected);
        assert!(!h.contains("Circle Of Life"));
    }
}

//! Camera URLs: credentials are taken out of the URL once, at the edge, so that nothing
//! downstream (retina, logs, errors, file metadata) ever holds a URL with a password in it.

use crate::credentials::Credentials;
use std::fmt;
use url::Url;

/// An `rtsp://` URL with any `user:password@` removed.
#[derive(Clone, PartialEq, Eq)]
pub struct CameraUrl {
    url: Url,
}

/// What was wrong with a URL string. Holds no part of the URL: it may contain a password.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UrlError {
    /// Not parseable as a URL.
    #[error("not a valid URL")]
    Invalid,
    /// A scheme other than rtsp.
    #[error("unsupported URL scheme {0:?} (expected rtsp)")]
    Scheme(String),
    /// No host.
    #[error("URL has no host")]
    NoHost,
}

impl CameraUrl {
    /// Parses `s`, returning the clean URL and the credentials that were inside it, if any
    /// (percent-decoded, as cameras' passwords often contain `@` or `:`).
    pub fn parse(s: &str) -> Result<(CameraUrl, Option<Credentials>), UrlError> {
        let mut url = Url::parse(s.trim()).map_err(|_| UrlError::Invalid)?;
        if !url.scheme().eq_ignore_ascii_case("rtsp") {
            return Err(UrlError::Scheme(url.scheme().to_string()));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(UrlError::NoHost);
        }
        let creds = if !url.username().is_empty() || url.password().is_some() {
            let user = percent_decode(url.username());
            let pass = percent_decode(url.password().unwrap_or(""));
            Some(Credentials::new(user, pass))
        } else {
            None
        };
        // Infallible for URLs with a host; ignore the unit error rather than unwrap.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        Ok((CameraUrl { url }, creds))
    }

    /// The URL without credentials.
    pub fn as_url(&self) -> &Url {
        &self.url
    }

    /// `host:port` for messages.
    pub fn host_port(&self) -> String {
        format!(
            "{}:{}",
            self.url.host_str().unwrap_or(""),
            self.url.port().unwrap_or(554)
        )
    }
}

impl fmt::Display for CameraUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.url.as_str())
    }
}

impl fmt::Debug for CameraUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CameraUrl({})", self.url)
    }
}

/// Shows `s` with any password replaced by `***` (`rtsp://user:***@host/...`), for messages
/// about URLs that were given to us and may contain one. Unparseable input is not echoed.
pub fn redact(s: &str) -> String {
    match Url::parse(s.trim()) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "<invalid URL>".to_string(),
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(h) = b.get(i + 1..i + 3)
            && let Ok(hs) = std::str::from_utf8(h)
            && let Ok(v) = u8::from_str_radix(hs, 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_stripped_and_decoded() {
        let (u, c) =
            CameraUrl::parse("rtsp://admin:p%40ss%3Aw@10.0.0.5:554/Streaming/101").unwrap();
        assert_eq!(u.to_string(), "rtsp://10.0.0.5:554/Streaming/101");
        let c = c.unwrap();
        assert_eq!(c.username, "admin");
        assert_eq!(c.password, "p@ss:w");
        assert!(!format!("{u:?}").contains("p%40ss"));
    }

    #[test]
    fn no_credentials() {
        let (u, c) = CameraUrl::parse("rtsp://cam.local/live").unwrap();
        assert!(c.is_none());
        assert_eq!(u.host_port(), "cam.local:554");
    }

    #[test]
    fn bad_urls_do_not_echo_input() {
        assert_eq!(
            CameraUrl::parse("http://a/b").unwrap_err(),
            UrlError::Scheme("http".into())
        );
        let e = CameraUrl::parse("rtsp://user:secretpw@").unwrap_err();
        assert!(!e.to_string().contains("secretpw"));
        assert_eq!(redact("rtsp://u:secretpw@h/x"), "rtsp://u:***@h/x");
        assert_eq!(redact("::::secretpw"), "<invalid URL>");
    }
}

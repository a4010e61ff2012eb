//! SOAP 1.2 envelopes, faults and the WS-Security UsernameToken check for the sim's ONVIF face.
//!
//! The answers use the prefixes most firmwares use (`tds`, `trt`, `tt`, `tev`, `wsnt`), all
//! declared once on the envelope, so a client that matches by local name and one that checks
//! namespaces both read them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use jiff::{SignedDuration, Timestamp};

use crate::onvif::auth::password_digest;
use crate::onvif::xml::{Element, escape};

/// Namespace declarations every answer carries.
const NAMESPACES: &str = concat!(
    r#"xmlns:env="http://www.w3.org/2003/05/soap-envelope" "#,
    r#"xmlns:ter="http://www.onvif.org/ver10/error" "#,
    r#"xmlns:tt="http://www.onvif.org/ver10/schema" "#,
    r#"xmlns:tds="http://www.onvif.org/ver10/device/wsdl" "#,
    r#"xmlns:trt="http://www.onvif.org/ver10/media/wsdl" "#,
    r#"xmlns:tev="http://www.onvif.org/ver10/events/wsdl" "#,
    r#"xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" "#,
    r#"xmlns:wsa="http://www.w3.org/2005/08/addressing" "#,
    r#"xmlns:tns1="http://www.onvif.org/ver10/topics""#
);

/// How far a token's `Created` may be from the camera clock, as typical firmware allows.
const MAX_TOKEN_SKEW: SignedDuration = SignedDuration::from_secs(300);

/// A whole SOAP 1.2 envelope around `body` (one or more elements, prefixes from
/// [`NAMESPACES`]).
pub(crate) fn envelope(body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><env:Envelope {NAMESPACES}><env:Header/><env:Body>{body}</env:Body></env:Envelope>"#
    )
}

/// A SOAP 1.2 fault: what a request gets when it is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fault {
    /// HTTP status it travels with (ONVIF says 400 for sender faults, 500 for receiver ones).
    pub(crate) status: u16,
    /// `env:Sender` or `env:Receiver`.
    pub(crate) code: &'static str,
    /// Subcode chain, outermost first, e.g. `["ter:InvalidArgVal", "ter:NoProfile"]`.
    pub(crate) subcodes: Vec<&'static str>,
    pub(crate) reason: String,
}

impl Fault {
    /// The credentials were missing or wrong (the answer real cameras give).
    pub(crate) fn not_authorized() -> Fault {
        Fault {
            status: 400,
            code: "env:Sender",
            subcodes: vec!["ter:NotAuthorized"],
            reason: "Sender not Authorized".into(),
        }
    }

    /// The operation is not one the sim implements.
    pub(crate) fn action_not_supported(op: &str) -> Fault {
        Fault {
            status: 500,
            code: "env:Receiver",
            subcodes: vec!["ter:ActionNotSupported"],
            reason: format!("Optional Action Not Implemented: {op}"),
        }
    }

    /// An argument names something that does not exist or is malformed.
    pub(crate) fn invalid_arg(subcode: &'static str, reason: impl Into<String>) -> Fault {
        Fault {
            status: 400,
            code: "env:Sender",
            subcodes: vec!["ter:InvalidArgVal", subcode],
            reason: reason.into(),
        }
    }

    /// The request is not a SOAP envelope the sim can read.
    pub(crate) fn bad_request(reason: impl Into<String>) -> Fault {
        Fault {
            status: 400,
            code: "env:Sender",
            subcodes: vec!["ter:WellFormed"],
            reason: reason.into(),
        }
    }

    /// The fault as a full envelope.
    pub(crate) fn to_envelope(&self) -> String {
        let mut sub = String::new();
        for s in &self.subcodes {
            sub.push_str("<env:Subcode><env:Value>");
            sub.push_str(s);
            sub.push_str("</env:Value>");
        }
        for _ in &self.subcodes {
            sub.push_str("</env:Subcode>");
        }
        envelope(&format!(
            r#"<env:Fault><env:Code><env:Value>{}</env:Value>{sub}</env:Code><env:Reason><env:Text xml:lang="en">{}</env:Text></env:Reason></env:Fault>"#,
            self.code,
            escape(&self.reason)
        ))
    }
}

/// `xsd:dateTime` in UTC, second precision.
pub(crate) fn xsd_time(t: Timestamp) -> String {
    crate::onvif::auth::format_created(t)
}

/// Reads an `xsd:duration` of the simple forms clients send (`PT60S`, `PT1M`, `PT1H30M`,
/// `PT0.5S`); `None` for anything else.
pub(crate) fn parse_xsd_duration(s: &str) -> Option<std::time::Duration> {
    let rest = s.trim().strip_prefix("PT")?;
    let mut secs = 0f64;
    let mut num = String::new();
    for c in rest.chars() {
        match c {
            '0'..='9' | '.' => num.push(c),
            'H' | 'M' | 'S' => {
                let v: f64 = num.parse().ok()?;
                num.clear();
                secs += v * match c {
                    'H' => 3600.0,
                    'M' => 60.0,
                    _ => 1.0,
                };
            }
            _ => return None,
        }
    }
    if !num.is_empty() || !secs.is_finite() || !(0.0..=1e7).contains(&secs) {
        return None;
    }
    Some(std::time::Duration::from_secs_f64(secs))
}

/// Checks the `wsse:Security/UsernameToken` in `header` against the account, with `now` the
/// camera clock: PasswordDigest only (what every ONVIF client sends), `Created` within
/// [`MAX_TOKEN_SKEW`] of the camera clock. Returns why it was refused, for the sim's log.
pub(crate) fn check_username_token(
    header: Option<&Element>,
    user: &str,
    password: &str,
    now: Timestamp,
) -> Result<(), &'static str> {
    let token = header
        .and_then(|h| h.child("Security"))
        .and_then(|s| s.child("UsernameToken"))
        .ok_or("no UsernameToken")?;
    let username = token.text_at(&["Username"]).ok_or("no Username")?;
    let pw = token.child("Password").ok_or("no Password")?;
    let is_digest = pw
        .attr("Type")
        .is_some_and(|t| t.ends_with("#PasswordDigest"));
    if !is_digest {
        return Err("not a PasswordDigest");
    }
    let nonce = token
        .text_at(&["Nonce"])
        .and_then(|n| B64.decode(n.trim()).ok())
        .ok_or("no or bad Nonce")?;
    let created = token.text_at(&["Created"]).ok_or("no Created")?;
    let created_t: Timestamp = created.trim().parse().map_err(|_| "bad Created")?;
    if created_t.duration_since(now).abs() > MAX_TOKEN_SKEW {
        return Err("Created too far from the camera clock");
    }
    let expected = password_digest(&nonce, created, password);
    let digest_ok = constant_time_eq(expected.as_bytes(), pw.trimmed().as_bytes());
    let user_ok = constant_time_eq(username.as_bytes(), user.as_bytes());
    if digest_ok && user_ok {
        Ok(())
    } else {
        Err("wrong user name or password")
    }
}

/// Compares without an early exit, so timing does not reveal a matching prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onvif::Credentials;
    use crate::onvif::auth::username_token_header;
    use crate::onvif::soap::parse_response;
    use crate::onvif::xml::{XmlLimits, parse};

    fn header_for(user: &str, pw: &str, created: Timestamp) -> Element {
        let h = username_token_header(&Credentials::new(user, pw), created, &[9u8; 16]);
        let doc = format!(
            r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header>{h}</s:Header><s:Body/></s:Envelope>"#
        );
        let root = parse(doc.as_bytes(), &XmlLimits::default()).unwrap();
        root.child("Header").unwrap().clone()
    }

    #[test]
    fn username_token_checked() {
        let now = Timestamp::now();
        let h = header_for("admin", "pw1", now);
        assert_eq!(check_username_token(Some(&h), "admin", "pw1", now), Ok(()));
        assert!(check_username_token(Some(&h), "admin", "pw2", now).is_err());
        assert!(check_username_token(Some(&h), "root", "pw1", now).is_err());
        assert!(check_username_token(None, "admin", "pw1", now).is_err());
        // A token made with a clock an hour off is refused.
        let later = now.checked_add(SignedDuration::from_hours(1)).unwrap();
        assert!(check_username_token(Some(&h), "admin", "pw1", later).is_err());
        // PasswordText is refused.
        let text = r#"<s:Header xmlns:s="x"><wsse:Security xmlns:wsse="y"><wsse:UsernameToken><wsse:Username>admin</wsse:Username><wsse:Password>pw1</wsse:Password></wsse:UsernameToken></wsse:Security></s:Header>"#;
        let t = parse(text.as_bytes(), &XmlLimits::default()).unwrap();
        assert!(check_username_token(Some(&t), "admin", "pw1", now).is_err());
    }

    #[test]
    fn faults_read_back_by_the_client() {
        let f = Fault::not_authorized();
        let e = parse_response(
            "t",
            f.status,
            f.to_envelope().as_bytes(),
            &XmlLimits::default(),
        )
        .unwrap_err();
        let sf = e.fault().unwrap();
        assert!(sf.is_auth());
        assert_eq!(sf.subcode.as_deref(), Some("ter:NotAuthorized"));
        let f = Fault::invalid_arg("ter:NoProfile", "no profile <x>");
        let e = parse_response(
            "t",
            f.status,
            f.to_envelope().as_bytes(),
            &XmlLimits::default(),
        )
        .unwrap_err();
        let sf = e.fault().unwrap();
        assert!(!sf.is_auth());
        assert_eq!(sf.subcode.as_deref(), Some("ter:NoProfile"));
        assert_eq!(sf.reason, "no profile <x>");
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_xsd_duration("PT60S"),
            Some(std::time::Duration::from_secs(60))
        );
        assert_eq!(
            parse_xsd_duration("PT1H2M3S"),
            Some(std::time::Duration::from_secs(3723))
        );
        assert_eq!(
            parse_xsd_duration("PT0.5S"),
            Some(std::time::Duration::from_millis(500))
        );
        assert_eq!(parse_xsd_duration("P1D"), None);
        assert_eq!(parse_xsd_duration("PT5"), None);
        assert_eq!(parse_xsd_duration("PT1e400S"), None);
        assert_eq!(parse_xsd_duration("2024-01-01T00:00:00Z"), None);
    }
}

//! One error type for the whole ONVIF client, grouped into the families the C and Python
//! bindings map to (connection, auth, timeout, protocol, invalid input).
//!
//! No variant ever carries a password: URLs are stripped of user info before they are put in an
//! error (see [`redact_url`]), and credentials are never formatted.

use std::fmt;

pub use crate::error_kind::ErrorKind;

/// A SOAP fault as the device sent it, SOAP 1.1 or 1.2, with prefixes kept as sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SoapFault {
    /// `Code/Value` (1.2) or `faultcode` (1.1), e.g. `env:Sender` or `SOAP-ENV:Client`.
    pub code: String,
    /// Innermost `Subcode/Value`, e.g. `ter:NotAuthorized`, if any.
    pub subcode: Option<String>,
    /// `Reason/Text` (1.2) or `faultstring` (1.1).
    pub reason: String,
    /// The HTTP status the fault came with (200, 400, 500, ...).
    pub http_status: u16,
}

impl SoapFault {
    /// True when the fault says the request was refused for lack of (valid) credentials.
    ///
    /// Cameras say this many ways: `ter:NotAuthorized` (the ONVIF way),
    /// `wsse:FailedAuthentication` / `InvalidSecurity` (WS-Security), or only a reason text.
    pub fn is_auth(&self) -> bool {
        let local = |s: &str| s.rsplit(':').next().unwrap_or(s).to_ascii_lowercase();
        let sub = self.subcode.as_deref().map(local).unwrap_or_default();
        if matches!(
            sub.as_str(),
            "notauthorized"
                | "failedauthentication"
                | "invalidsecurity"
                | "invalidsecuritytoken"
                | "securitytokenunavailable"
                | "failedcheck"
                | "messageexpired"
        ) {
            return true;
        }
        let code = local(&self.code);
        if matches!(
            code.as_str(),
            "notauthorized" | "failedauthentication" | "invalidsecurity"
        ) {
            return true;
        }
        let reason = self.reason.to_ascii_lowercase();
        [
            "not authorized",
            "notauthorized",
            "unauthorized",
            "authentication",
            "authority failure",
            "password",
            "credential",
            "security",
            "sender not authorized",
            "permission",
            "username",
        ]
        .iter()
        .any(|needle| reason.contains(needle))
    }

    /// True when the device says it does not implement the operation.
    pub fn is_action_not_supported(&self) -> bool {
        let text = format!(
            "{} {} {}",
            self.code,
            self.subcode.as_deref().unwrap_or(""),
            self.reason
        )
        .to_ascii_lowercase();
        text.contains("actionnotsupported")
            || text.contains("not supported")
            || text.contains("notsupported")
            || text.contains("not implemented")
            || text.contains("unknown operation")
            || text.contains("no such operation")
    }
}

impl fmt::Display for SoapFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(sub) = &self.subcode {
            write!(f, "/{sub}")?;
        }
        write!(f, " (HTTP {}): {}", self.http_status, self.reason)
    }
}

/// Why XML from a device was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// The document is larger than the configured limit.
    #[error("XML document of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Document size.
        size: usize,
        /// Configured limit.
        limit: usize,
    },
    /// Elements nest deeper than the configured limit.
    #[error("XML nesting deeper than {limit} levels")]
    TooDeep {
        /// Configured limit.
        limit: usize,
    },
    /// More elements than the configured limit.
    #[error("XML has more than {limit} elements")]
    TooManyElements {
        /// Configured limit.
        limit: usize,
    },
    /// A DOCTYPE: refused outright, it is how entity bombs and external entities arrive.
    #[error("XML with a DOCTYPE declaration is refused")]
    Doctype,
    /// Not UTF-8, or an encoding declaration other than UTF-8.
    #[error("XML encoding not supported: {0}")]
    Encoding(String),
    /// The document ends before its root element is closed.
    #[error("XML document is truncated")]
    Truncated,
    /// Not well-formed (mismatched tags, bad entity reference, ...).
    #[error("malformed XML: {0}")]
    Malformed(String),
}

/// Everything the ONVIF client can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Could not reach the device (family [`ErrorKind::Connection`]).
    #[error("cannot connect to {target}: {reason}")]
    Connection {
        /// Where we tried to go (user info removed).
        target: String,
        /// What the OS or resolver said.
        reason: String,
    },
    /// Credentials missing or refused (family [`ErrorKind::Auth`]).
    #[error("authentication failed at {target}: {reason}")]
    Auth {
        /// The endpoint that refused us (user info removed).
        target: String,
        /// What the device said, or why we stopped trying.
        reason: String,
        /// How many requests were sent for this operation before giving up.
        attempts: u32,
    },
    /// The device did not answer in time (family [`ErrorKind::Timeout`]).
    #[error("timed out after {after_ms} ms: {what}")]
    Timeout {
        /// What we were waiting for.
        what: String,
        /// How long we waited.
        after_ms: u64,
    },
    /// A SOAP fault other than an auth failure (family [`ErrorKind::Protocol`]).
    #[error("SOAP fault from {target}: {fault}")]
    Fault {
        /// The endpoint that answered (user info removed).
        target: String,
        /// The fault as sent.
        fault: SoapFault,
    },
    /// XML the device sent was refused by the bounded parser (family [`ErrorKind::Protocol`]).
    #[error("bad XML from {target}: {source}")]
    Xml {
        /// The endpoint that answered (user info removed).
        target: String,
        /// Why the XML was refused.
        #[source]
        source: XmlError,
    },
    /// Bad HTTP, oversized answers, missing fields (family [`ErrorKind::Protocol`]).
    #[error("protocol error from {target}: {detail}")]
    Protocol {
        /// The endpoint that answered (user info removed).
        target: String,
        /// What was wrong.
        detail: String,
    },
    /// The caller asked for something impossible (family [`ErrorKind::InvalidInput`]).
    #[error("invalid input: {0}")]
    InvalidInput(String),
}

impl Error {
    /// The family this error belongs to.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Connection { .. } => ErrorKind::Connection,
            Error::Auth { .. } => ErrorKind::Auth,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::Fault { .. } | Error::Xml { .. } | Error::Protocol { .. } => ErrorKind::Protocol,
            Error::InvalidInput(_) => ErrorKind::InvalidInput,
        }
    }

    /// The SOAP fault, when this error is one.
    pub fn fault(&self) -> Option<&SoapFault> {
        match self {
            Error::Fault { fault, .. } => Some(fault),
            _ => None,
        }
    }

    pub(crate) fn protocol(target: &str, detail: impl Into<String>) -> Self {
        Error::Protocol {
            target: redact_url(target),
            detail: detail.into(),
        }
    }

    pub(crate) fn xml(target: &str, source: XmlError) -> Self {
        Error::Xml {
            target: redact_url(target),
            source,
        }
    }
}

/// Result alias for the ONVIF client.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Removes `user:password@` from a URL-ish string so it can go into logs and errors.
pub fn redact_url(s: &str) -> String {
    match s.find("://") {
        Some(scheme_end) => {
            let rest_start = scheme_end + 3;
            let rest = s.get(rest_start..).unwrap_or("");
            let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let authority = rest.get(..authority_end).unwrap_or("");
            match authority.rfind('@') {
                Some(at) => format!(
                    "{}{}",
                    s.get(..rest_start).unwrap_or(""),
                    rest.get(at + 1..).unwrap_or("")
                ),
                None => s.to_string(),
            }
        }
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_removes_userinfo() {
        assert_eq!(
            redact_url("rtsp://admin:pw@10.0.0.1:554/x?y=1"),
            "rtsp://10.0.0.1:554/x?y=1"
        );
        assert_eq!(redact_url("http://h/p@q"), "http://h/p@q");
        assert_eq!(redact_url("not a url"), "not a url");
    }

    #[test]
    fn auth_fault_detection() {
        let f = SoapFault {
            code: "env:Sender".into(),
            subcode: Some("ter:NotAuthorized".into()),
            reason: "Sender not Authorized".into(),
            http_status: 400,
        };
        assert!(f.is_auth());
        let f = SoapFault {
            code: "SOAP-ENV:Client".into(),
            subcode: None,
            reason: "Authentication failed".into(),
            http_status: 500,
        };
        assert!(f.is_auth());
        let f = SoapFault {
            code: "env:Receiver".into(),
            subcode: Some("ter:ActionNotSupported".into()),
            reason: "Optional Action Not Implemented".into(),
            http_status: 500,
        };
        assert!(!f.is_auth());
        assert!(f.is_action_not_supported());
    }
}

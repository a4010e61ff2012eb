//! SOAP 1.2 over HTTP with the authentication dance real cameras need.
//!
//! One [`Transport`] per device, shared by the device, media, events and PTZ calls, because the
//! things learned while talking to a device belong to the device: its clock offset, which HTTP
//! challenge it sent, which auth mode worked.
//!
//! The dance for one operation (at most [`ClientOptions::max_attempts`] requests):
//! 1. Send with a WS-Security UsernameToken (when we have credentials), its `Created` in the
//!    camera's clock, plus an HTTP `Authorization` if this device asked for one before.
//! 2. HTTP 401 → answer the strongest challenge (Digest SHA-256 > Digest MD5 > Basic) and retry.
//!    A 401 to a request that already carried our answer (and is not `stale`) is final.
//! 3. An auth SOAP fault → the camera clock may have moved: re-measure it once (anonymous
//!    GetSystemDateAndTime) and retry. A second auth fault is final.
//!
//! Cameras lock accounts after a few failed logins, so there is no other retrying.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use jiff::{SignedDuration, Timestamp};
use url::Url;

use super::auth::{Credentials, HttpAuth, HttpAuthScheme, username_token_header};
use super::error::{Error, Result, SoapFault, redact_url};
use super::http;
use super::tls::TlsVerify;
use super::xml::{self, Element, XmlLimits};

/// Namespaces used in request bodies.
pub mod ns {
    /// Device management.
    pub const DEVICE: &str = "http://www.onvif.org/ver10/device/wsdl";
    /// Media (Profile S).
    pub const MEDIA: &str = "http://www.onvif.org/ver10/media/wsdl";
    /// Media2 (Profile T).
    pub const MEDIA2: &str = "http://www.onvif.org/ver20/media/wsdl";
    /// Common schema.
    pub const SCHEMA: &str = "http://www.onvif.org/ver10/schema";
    /// Events.
    pub const EVENTS: &str = "http://www.onvif.org/ver10/events/wsdl";
    /// PTZ.
    pub const PTZ: &str = "http://www.onvif.org/ver20/ptz/wsdl";
    /// WS-BaseNotification.
    pub const WSNT: &str = "http://docs.oasis-open.org/wsn/b-2";
    /// WS-Addressing 1.0.
    pub const WSA: &str = "http://www.w3.org/2005/08/addressing";
    /// SOAP 1.2 envelope.
    pub const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
}

/// Knobs for talking to one device. `Default` is what a VMS wants on a LAN.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Deadline for one HTTP exchange (connect, send, read the whole answer).
    pub timeout: Duration,
    /// Largest SOAP response accepted, in bytes.
    pub max_response_bytes: usize,
    /// Largest snapshot accepted, in bytes.
    pub max_snapshot_bytes: usize,
    /// Most requests sent for one operation, counting auth retries. Cameras lock accounts
    /// after a few failures, so keep this small.
    pub max_attempts: u32,
    /// Replace the host (and, for SOAP services, the port) in addresses the device reports
    /// when it differs from the one we reached it at (NAT, multi-homed cameras, wrong
    /// configuration). Each rewrite is logged.
    pub rewrite_hosts: bool,
    /// Use Media2 (ver20) when the device offers it.
    pub prefer_media2: bool,
    /// Limits for parsing XML answers.
    pub xml_limits: XmlLimits,
    /// How an `https://` device's certificate is checked (see [`TlsVerify`]): public roots by
    /// default; a self-signed camera needs [`TlsVerify::Pinned`] or [`TlsVerify::AcceptAny`].
    pub tls: TlsVerify,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            max_response_bytes: 4 * 1024 * 1024,
            max_snapshot_bytes: 16 * 1024 * 1024,
            max_attempts: 3,
            rewrite_hosts: true,
            prefer_media2: true,
            xml_limits: XmlLimits::default(),
            tls: TlsVerify::default(),
        }
    }
}

/// How a device accepted us, remembered per device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AuthMethod {
    /// A WS-Security UsernameToken was in the SOAP header.
    pub ws_security: bool,
    /// An HTTP scheme was answered.
    pub http: Option<HttpAuthScheme>,
}

#[derive(Debug, Default)]
struct AuthState {
    clock_offset: SignedDuration,
    http: Option<HttpAuth>,
    snapshot_http: Option<(String, HttpAuth)>,
    worked: Option<AuthMethod>,
}

/// What one request/response exchange produced, before the retry policy looks at it.
enum Exchange {
    Ok(Element),
    Unauthorized {
        challenges: Vec<String>,
        sent_http_auth: bool,
    },
    Fault(SoapFault),
}

/// Per-device SOAP transport with its remembered auth state.
#[derive(Debug)]
pub struct Transport {
    pub(crate) opts: ClientOptions,
    creds: Option<Credentials>,
    device_xaddr: Url,
    state: Mutex<AuthState>,
    requests: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Transport {
    /// A transport for the device whose device-service address is `device_xaddr`.
    pub fn new(device_xaddr: Url, creds: Option<Credentials>, opts: ClientOptions) -> Self {
        Self {
            opts,
            creds,
            device_xaddr,
            state: Mutex::new(AuthState::default()),
            requests: AtomicU64::new(0),
        }
    }

    /// The device-service address this transport was made for.
    pub fn device_xaddr(&self) -> &Url {
        &self.device_xaddr
    }

    /// Camera clock minus our clock, as last measured.
    pub fn clock_offset(&self) -> SignedDuration {
        lock(&self.state).clock_offset
    }

    pub(crate) fn set_clock_offset(&self, offset: SignedDuration) {
        lock(&self.state).clock_offset = offset;
    }

    /// What worked the last time an authenticated call succeeded.
    pub fn auth_method(&self) -> Option<AuthMethod> {
        lock(&self.state).worked
    }

    /// HTTP requests sent so far (all kinds).
    pub fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn camera_now(&self) -> Timestamp {
        let offset = self.clock_offset();
        Timestamp::now()
            .checked_add(offset)
            .unwrap_or_else(|_| Timestamp::now())
    }

    /// Calls `action` at `endpoint` with `body` (one element, namespaces declared on it) and
    /// `extra_headers` (SOAP header blocks), returning the first element inside `Body`.
    pub async fn call(
        &self,
        endpoint: &Url,
        action: &str,
        body: &str,
        extra_headers: &str,
    ) -> Result<Element> {
        let target = redact_url(endpoint.as_str());
        let max = self.opts.max_attempts.max(1);
        let ws = self.creds.is_some();
        let mut attempts = 0u32;
        let mut remeasured = false;
        let mut last_reason = String::from("credentials refused");
        while attempts < max {
            attempts += 1;
            match self
                .exchange(endpoint, action, body, extra_headers, ws, true)
                .await?
            {
                Exchange::Ok(el) => return Ok(el),
                Exchange::Unauthorized {
                    challenges,
                    sent_http_auth,
                } => {
                    if self.creds.is_none() {
                        return Err(Error::Auth {
                            target,
                            reason: "the device requires credentials (HTTP 401)".into(),
                            attempts,
                        });
                    }
                    let fresh = HttpAuth::from_challenges(challenges.iter().map(String::as_str));
                    let Some(fresh) = fresh else {
                        return Err(Error::Auth {
                            target,
                            reason: "HTTP 401 without a supported challenge".into(),
                            attempts,
                        });
                    };
                    let stale = fresh.stale();
                    lock(&self.state).http = Some(fresh);
                    if sent_http_auth && !stale {
                        return Err(Error::Auth {
                            target,
                            reason: "HTTP 401: the device refused the user name or password".into(),
                            attempts,
                        });
                    }
                }
                Exchange::Fault(f) if f.is_auth() => {
                    if self.creds.is_none() {
                        return Err(Error::Auth {
                            target,
                            reason: format!("the device requires credentials: {}", f.reason),
                            attempts,
                        });
                    }
                    last_reason = f.to_string();
                    if remeasured {
                        break;
                    }
                    remeasured = true;
                    log::info!(
                        "ONVIF {target}: {action_name} refused ({f}); re-measuring the camera clock and retrying once",
                        action_name = short_action(action)
                    );
                    if let Err(e) = self.measure_clock_anonymous().await {
                        log::debug!("ONVIF {target}: clock re-measure failed: {e}");
                    }
                }
                Exchange::Fault(f) => return Err(Error::Fault { target, fault: f }),
            }
        }
        Err(Error::Auth {
            target,
            reason: last_reason,
            attempts,
        })
    }

    /// GetSystemDateAndTime without a UsernameToken; updates the clock offset on success.
    pub(crate) async fn measure_clock_anonymous(&self) -> Result<Timestamp> {
        let endpoint = self.device_xaddr.clone();
        match self
            .exchange(
                &endpoint,
                GET_SYSTEM_DATE_AND_TIME_ACTION,
                GET_SYSTEM_DATE_AND_TIME_BODY,
                "",
                false,
                true,
            )
            .await?
        {
            Exchange::Ok(el) => self.apply_clock(&el),
            Exchange::Unauthorized { challenges, .. } => {
                // Remember the challenge so the authenticated retry answers it at once.
                if self.creds.is_some()
                    && let Some(h) =
                        HttpAuth::from_challenges(challenges.iter().map(String::as_str))
                {
                    lock(&self.state).http = Some(h);
                }
                Err(Error::Auth {
                    target: redact_url(endpoint.as_str()),
                    reason: "GetSystemDateAndTime needs credentials (HTTP 401)".into(),
                    attempts: 1,
                })
            }
            Exchange::Fault(f) if f.is_auth() => Err(Error::Auth {
                target: redact_url(endpoint.as_str()),
                reason: f.to_string(),
                attempts: 1,
            }),
            Exchange::Fault(f) => Err(Error::Fault {
                target: redact_url(endpoint.as_str()),
                fault: f,
            }),
        }
    }

    /// Measures the camera clock: anonymously first (as the spec requires devices to allow),
    /// then, if the device refuses and we have credentials, with authentication using our own
    /// clock (right often enough: many cameras accept a few minutes of skew).
    pub async fn measure_clock(&self) -> Result<Timestamp> {
        match self.measure_clock_anonymous().await {
            Ok(t) => Ok(t),
            Err(e) if e.kind() == super::ErrorKind::Auth && self.creds.is_some() => {
                let endpoint = self.device_xaddr.clone();
                let el = self
                    .call(
                        &endpoint,
                        GET_SYSTEM_DATE_AND_TIME_ACTION,
                        GET_SYSTEM_DATE_AND_TIME_BODY,
                        "",
                    )
                    .await?;
                self.apply_clock(&el)
            }
            Err(e) => Err(e),
        }
    }

    fn apply_clock(&self, el: &Element) -> Result<Timestamp> {
        let now = Timestamp::now();
        let camera = parse_system_date_and_time(el).ok_or_else(|| {
            Error::protocol(self.device_xaddr.as_str(), "unreadable SystemDateAndTime")
        })?;
        let offset = camera.duration_since(now);
        // Sub-second offsets are noise (the camera only reports whole seconds).
        let offset = if offset.as_secs().abs() < 2 {
            SignedDuration::ZERO
        } else {
            offset
        };
        if !offset.is_zero() {
            log::info!(
                "ONVIF {}: camera clock is {}s off ours; WS-Security tokens use the camera's time",
                redact_url(self.device_xaddr.as_str()),
                offset.as_secs()
            );
        }
        self.set_clock_offset(offset);
        Ok(camera)
    }

    async fn exchange(
        &self,
        endpoint: &Url,
        action: &str,
        body: &str,
        extra_headers: &str,
        ws_security: bool,
        http_auth: bool,
    ) -> Result<Exchange> {
        let target = redact_url(endpoint.as_str());
        let mut header = String::new();
        if let (true, Some(creds)) = (ws_security, &self.creds) {
            let nonce: [u8; 16] = rand::random();
            header.push_str(&username_token_header(creds, self.camera_now(), &nonce));
        }
        header.push_str(extra_headers);
        let envelope = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{}"><s:Header>{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>"#,
            ns::SOAP12
        );
        let url = strip_userinfo(endpoint);
        // SOAP 1.2 carries the action in Content-Type; some servers route only by the SOAP 1.1
        // style SOAPAction header (onvif-server for WS-BaseNotification calls), so send both.
        let mut headers = vec![
            (
                "Content-Type".to_string(),
                format!("application/soap+xml; charset=utf-8; action=\"{action}\""),
            ),
            ("SOAPAction".to_string(), format!("\"{action}\"")),
        ];
        let mut sent_http_auth = false;
        let mut used_scheme = None;
        if let (true, Some(creds)) = (http_auth, &self.creds) {
            let mut st = lock(&self.state);
            if let Some(h) = st.http.as_mut() {
                let uri = http::request_target(&url);
                if let Some(v) = h.authorization(creds, "POST", &uri, envelope.as_bytes()) {
                    headers.push(("Authorization".into(), v));
                    sent_http_auth = true;
                    used_scheme = Some(h.scheme());
                }
            }
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let resp = http::send(
            &http::Request {
                method: "POST",
                url: &url,
                tls: &self.opts.tls,
                headers,
                body: envelope.as_bytes(),
            },
            self.opts.timeout,
            self.opts.max_response_bytes,
        )
        .await?;
        if resp.status == 401 {
            return Ok(Exchange::Unauthorized {
                challenges: resp
                    .headers_named("WWW-Authenticate")
                    .map(str::to_owned)
                    .collect(),
                sent_http_auth,
            });
        }
        match parse_response(&target, resp.status, &resp.body, &self.opts.xml_limits) {
            Ok(el) => {
                if ws_security || sent_http_auth {
                    lock(&self.state).worked = Some(AuthMethod {
                        ws_security,
                        http: used_scheme,
                    });
                }
                Ok(Exchange::Ok(el))
            }
            Err(Error::Fault { fault, .. }) => Ok(Exchange::Fault(fault)),
            Err(e) => Err(e),
        }
    }

    /// HTTP GET of a snapshot (or any small resource on the device), answering a 401 with
    /// Digest or Basic once. Returns the body and its Content-Type.
    pub async fn get_bytes(&self, url: &Url, max: usize) -> Result<(Bytes, Option<String>)> {
        let target = redact_url(url.as_str());
        let creds = self.creds.clone().or_else(|| userinfo_credentials(url));
        let clean = strip_userinfo(url);
        let authority = authority_of(&clean);
        let uri = http::request_target(&clean);
        let mut sent_auth = false;
        for attempt in 1..=2u32 {
            let mut headers = vec![("Accept".to_string(), "image/jpeg, image/*".to_string())];
            if let Some(creds) = &creds {
                let mut st = lock(&self.state);
                if let Some((auth_of, h)) = st.snapshot_http.as_mut()
                    && *auth_of == authority
                    && let Some(v) = h.authorization(creds, "GET", &uri, b"")
                {
                    headers.push(("Authorization".into(), v));
                    sent_auth = true;
                }
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let resp = http::send(
                &http::Request {
                    method: "GET",
                    url: &clean,
                    tls: &self.opts.tls,
                    headers,
                    body: b"",
                },
                self.opts.timeout,
                max,
            )
            .await?;
            match resp.status {
                200 => {
                    let ct = resp.header("Content-Type").map(str::to_owned);
                    return Ok((resp.body, ct));
                }
                401 => {
                    let Some(_) = &creds else {
                        return Err(Error::Auth {
                            target,
                            reason: "the snapshot URI requires credentials (HTTP 401)".into(),
                            attempts: attempt,
                        });
                    };
                    let fresh = HttpAuth::from_challenges(resp.headers_named("WWW-Authenticate"));
                    let Some(fresh) = fresh else {
                        return Err(Error::Auth {
                            target,
                            reason: "HTTP 401 without a supported challenge".into(),
                            attempts: attempt,
                        });
                    };
                    let stale = fresh.stale();
                    lock(&self.state).snapshot_http = Some((authority.clone(), fresh));
                    if sent_auth && !stale {
                        return Err(Error::Auth {
                            target,
                            reason: "HTTP 401: the device refused the user name or password".into(),
                            attempts: attempt,
                        });
                    }
                }
                s => {
                    return Err(Error::protocol(
                        url.as_str(),
                        format!("snapshot request answered HTTP {s}"),
                    ));
                }
            }
        }
        Err(Error::Auth {
            target,
            reason: "the device kept answering HTTP 401".into(),
            attempts: 2,
        })
    }
}

fn short_action(action: &str) -> &str {
    action.rsplit('/').next().unwrap_or(action)
}

fn authority_of(url: &Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    )
}

/// The URL without `user:password@` (we never send credentials that way).
pub(crate) fn strip_userinfo(url: &Url) -> Url {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u
}

/// `user:password@` of `url` as credentials (percent-decoded), if there is a user.
pub(crate) fn userinfo_credentials(url: &Url) -> Option<Credentials> {
    if url.username().is_empty() {
        return None;
    }
    let dec = |s: &str| super::discovery::percent_decode(s);
    Some(Credentials::new(
        dec(url.username()),
        dec(url.password().unwrap_or("")),
    ))
}

pub(crate) const GET_SYSTEM_DATE_AND_TIME_ACTION: &str =
    "http://www.onvif.org/ver10/device/wsdl/GetSystemDateAndTime";
pub(crate) const GET_SYSTEM_DATE_AND_TIME_BODY: &str =
    r#"<tds:GetSystemDateAndTime xmlns:tds="http://www.onvif.org/ver10/device/wsdl"/>"#;

/// Reads `SystemDateAndTime/UTCDateTime` (falling back to `LocalDateTime` read as UTC, which
/// is what cameras without a UTC field mean in practice).
pub fn parse_system_date_and_time(resp: &Element) -> Option<Timestamp> {
    let sdt = resp.find("SystemDateAndTime")?;
    let dt = sdt
        .child("UTCDateTime")
        .or_else(|| sdt.child("LocalDateTime"))?;
    let dt = civil_date_time(dt)?
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()?;
    Some(dt.timestamp())
}

/// The device's UTC offset: `LocalDateTime` minus `UTCDateTime` of a GetSystemDateAndTime
/// answer, rounded to 15 minutes (the two are read a moment apart), within ±14 h. `None`
/// when either is missing. More reliable than the POSIX `TZ` string beside them, whose
/// sign conventions vendors disagree on.
pub fn parse_local_offset(resp: &Element) -> Option<jiff::tz::Offset> {
    let sdt = resp.find("SystemDateAndTime")?;
    let utc = civil_date_time(sdt.child("UTCDateTime")?)?;
    let local = civil_date_time(sdt.child("LocalDateTime")?)?;
    let secs = local.duration_since(utc).as_secs();
    let quarter = 15 * 60;
    let rounded = (secs + secs.signum() * quarter / 2) / quarter * quarter;
    if rounded.abs() > 14 * 3600 {
        return None;
    }
    jiff::tz::Offset::from_seconds(i32::try_from(rounded).ok()?).ok()
}

/// The `Date`/`Time` children of an ONVIF `DateTime`.
fn civil_date_time(dt: &Element) -> Option<jiff::civil::DateTime> {
    let num = |path: &[&str]| -> Option<i64> { dt.text_at(path)?.parse().ok() };
    let year = num(&["Date", "Year"])?;
    let month = num(&["Date", "Month"])?;
    let day = num(&["Date", "Day"])?;
    let hour = num(&["Time", "Hour"])?;
    let minute = num(&["Time", "Minute"])?;
    let second = num(&["Time", "Second"])?.min(59);
    let date = jiff::civil::Date::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
    )
    .ok()?;
    Some(
        date.to_datetime(
            jiff::civil::Time::new(
                i8::try_from(hour).ok()?,
                i8::try_from(minute).ok()?,
                i8::try_from(second).ok()?,
                0,
            )
            .ok()?,
        ),
    )
}

/// Checks an HTTP answer is a SOAP envelope and returns the first element in its `Body`, or
/// the fault it carries as [`Error::Fault`]. SOAP 1.1 and 1.2 are both read, whatever the
/// HTTP status (cameras send faults with 200, 400, 500).
pub fn parse_response(
    target: &str,
    status: u16,
    body: &[u8],
    limits: &XmlLimits,
) -> Result<Element> {
    let root = match xml::parse(body, limits) {
        Ok(r) => r,
        Err(e) => {
            if status != 200 {
                return Err(Error::protocol(
                    target,
                    format!("HTTP {status} without a SOAP answer ({e})"),
                ));
            }
            return Err(Error::xml(target, e));
        }
    };
    if root.name != "Envelope" {
        return Err(Error::protocol(
            target,
            format!(
                "HTTP {status}: expected a SOAP Envelope, got <{}>",
                root.name
            ),
        ));
    }
    let Some(body) = root.child("Body") else {
        return Err(Error::protocol(target, "SOAP Envelope without Body"));
    };
    let first = body.children.first();
    if let Some(fault) = first.filter(|e| e.name == "Fault") {
        return Err(Error::Fault {
            target: redact_url(target),
            fault: parse_fault(fault, status),
        });
    }
    if status != 200 {
        return Err(Error::protocol(
            target,
            format!("HTTP {status} with a non-fault SOAP body"),
        ));
    }
    Ok(first.cloned().unwrap_or_default())
}

fn parse_fault(f: &Element, status: u16) -> SoapFault {
    if let Some(code) = f.child("Code") {
        // SOAP 1.2: Code/Value, Code/Subcode/Value (possibly nested), Reason/Text.
        let mut subcode = None;
        let mut cur = code.child("Subcode");
        while let Some(s) = cur {
            if let Some(v) = s.text_at(&["Value"]) {
                subcode = Some(v.to_string());
            }
            cur = s.child("Subcode");
        }
        SoapFault {
            code: code.text_at(&["Value"]).unwrap_or("").to_string(),
            subcode,
            reason: f
                .child("Reason")
                .and_then(|r| r.children_named("Text").next())
                .map(|t| t.trimmed().to_string())
                .unwrap_or_default(),
            http_status: status,
        }
    } else {
        // SOAP 1.1: faultcode, faultstring; ONVIF 1.1 devices sometimes put the subcode in detail.
        SoapFault {
            code: f.text_at(&["faultcode"]).unwrap_or("").to_string(),
            subcode: f
                .child("detail")
                .and_then(|d| d.find("Subcode").or_else(|| d.find("Value")))
                .map(|e| e.trimmed().to_string())
                .filter(|s| !s.is_empty()),
            reason: f.text_at(&["faultstring"]).unwrap_or("").to_string(),
            http_status: status,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "http://cam/onvif/device_service";

    fn lim() -> XmlLimits {
        XmlLimits::default()
    }

    #[test]
    fn soap12_fault_with_nested_subcode() {
        let xml = r#"<?xml version="1.0"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:ter="http://www.onvif.org/ver10/error"><env:Body><env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>ter:NotAuthorized</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang="en">Sender not Authorized</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>"#;
        for status in [200, 400, 500] {
            let e = parse_response(T, status, xml.as_bytes(), &lim()).unwrap_err();
            let f = e.fault().unwrap();
            assert_eq!(f.code, "env:Sender");
            assert_eq!(f.subcode.as_deref(), Some("ter:NotAuthorized"));
            assert_eq!(f.reason, "Sender not Authorized");
            assert_eq!(f.http_status, status);
            assert!(f.is_auth());
        }
    }

    #[test]
    fn soap11_fault() {
        let xml = r#"<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>SOAP-ENV:Client</faultcode><faultstring>Action not supported</faultstring></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>"#;
        let e = parse_response(T, 500, xml.as_bytes(), &lim()).unwrap_err();
        let f = e.fault().unwrap();
        assert_eq!(f.code, "SOAP-ENV:Client");
        assert_eq!(f.reason, "Action not supported");
        assert!(!f.is_auth());
        assert!(f.is_action_not_supported());
    }

    #[test]
    fn soap11_success_and_odd_prefixes() {
        let xml = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><ns2:GetDeviceInformationResponse xmlns:ns2="http://www.onvif.org/ver10/device/wsdl"><ns2:Model>X</ns2:Model></ns2:GetDeviceInformationResponse></s:Body></s:Envelope>"#;
        let el = parse_response(T, 200, xml.as_bytes(), &lim()).unwrap();
        assert_eq!(el.name, "GetDeviceInformationResponse");
        assert_eq!(el.text_at(&["Model"]), Some("X"));
    }

    #[test]
    fn non_soap_answers() {
        let e = parse_response(T, 404, b"<html><body>Not Found</body></html>", &lim()).unwrap_err();
        assert_eq!(e.kind(), crate::onvif::ErrorKind::Protocol);
        let e = parse_response(T, 500, b"Internal error", &lim()).unwrap_err();
        assert!(e.to_string().contains("HTTP 500"), "{e}");
        let e = parse_response(T, 200, b"<a><b>", &lim()).unwrap_err();
        assert!(matches!(e, Error::Xml { .. }), "{e}");
    }

    #[test]
    fn system_date_and_time_parsed() {
        let xml = r#"<e:Envelope xmlns:e="x"><e:Body><tds:GetSystemDateAndTimeResponse xmlns:tds="d" xmlns:tt="s"><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType><tt:UTCDateTime><tt:Time><tt:Hour>7</tt:Hour><tt:Minute>50</tt:Minute><tt:Second>45</tt:Second></tt:Time><tt:Date><tt:Year>2010</tt:Year><tt:Month>9</tt:Month><tt:Day>16</tt:Day></tt:Date></tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse></e:Body></e:Envelope>"#;
        let el = parse_response(T, 200, xml.as_bytes(), &lim()).unwrap();
        let t = parse_system_date_and_time(&el).unwrap();
        assert_eq!(t.to_string(), "2010-09-16T07:50:45Z");
        // No LocalDateTime: no offset known.
        assert_eq!(parse_local_offset(&el), None);
    }

    /// A Dahua-like answer: local time 7 h ahead of UTC, read a second apart; the POSIX TZ
    /// string beside it (`CST-7`, sign inverted) is not needed.
    #[test]
    fn local_offset_from_local_minus_utc() {
        let dt = |h: u8, s: u8, d: u8| {
            format!(
                "<tt:Time><tt:Hour>{h}</tt:Hour><tt:Minute>59</tt:Minute><tt:Second>{s}</tt:Second></tt:Time><tt:Date><tt:Year>2026</tt:Year><tt:Month>11</tt:Month><tt:Day>{d}</tt:Day></tt:Date>"
            )
        };
        let answer = |utc: String, local: String| {
            format!(
                r#"<e:Envelope xmlns:e="x"><e:Body><tds:GetSystemDateAndTimeResponse xmlns:tds="d" xmlns:tt="s"><tds:SystemDateAndTime><tt:TimeZone><tt:TZ>CST-7</tt:TZ></tt:TimeZone><tt:UTCDateTime>{utc}</tt:UTCDateTime><tt:LocalDateTime>{local}</tt:LocalDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse></e:Body></e:Envelope>"#
            )
        };
        // 20:59:58 UTC on the 24th is 03:59:59 local on the 25th.
        let xml = answer(dt(20, 58, 24), dt(3, 59, 25));
        let el = parse_response(T, 200, xml.as_bytes(), &lim()).unwrap();
        assert_eq!(parse_local_offset(&el).map(|o| o.seconds()), Some(7 * 3600));
        // West of UTC, and a nonsense 20 h difference.
        let xml = answer(dt(20, 0, 24), dt(15, 0, 24));
        let el = parse_response(T, 200, xml.as_bytes(), &lim()).unwrap();
        assert_eq!(
            parse_local_offset(&el).map(|o| o.seconds()),
            Some(-5 * 3600)
        );
        let xml = answer(dt(0, 0, 24), dt(20, 0, 24));
        let el = parse_response(T, 200, xml.as_bytes(), &lim()).unwrap();
        assert_eq!(parse_local_offset(&el), None);
    }
}

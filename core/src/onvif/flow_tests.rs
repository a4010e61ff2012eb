//! End-to-end client tests against a canned local HTTP responder playing cameras the way real
//! firmwares behave: Media1-only and Media2 devices, clocks an hour off, WS-Security and HTTP
//! Digest, faults with 200/400/500, unreachable addresses in answers, wrong passwords.

use std::sync::Arc;

use base64::Engine as _;
use jiff::{SignedDuration, Timestamp};

use super::auth::{HttpAuthScheme, password_digest};
use super::http::testserver::{Seen, envelope, response, soap_ok, start};
use super::xml::{self, XmlLimits};
use super::*;

const USER: &str = "admin";
const PASS: &str = "correct horse";

fn op_of(req: &Seen) -> String {
    let root = xml::parse(req.body.as_bytes(), &XmlLimits::default()).unwrap();
    root.child("Body").unwrap().children[0].name.clone()
}

/// Checks the request's UsernameToken against PASS and the camera clock `camera_now`.
fn ws_security_ok(req: &Seen, camera_now: Timestamp) -> bool {
    let root = xml::parse(req.body.as_bytes(), &XmlLimits::default()).unwrap();
    let Some(tok) = root.find("UsernameToken") else {
        return false;
    };
    let nonce = base64::engine::general_purpose::STANDARD
        .decode(tok.text_at(&["Nonce"]).unwrap())
        .unwrap();
    let created = tok.text_at(&["Created"]).unwrap();
    let created_t: Timestamp = created.parse().unwrap();
    let skew = created_t.duration_since(camera_now).as_secs().abs();
    tok.text_at(&["Username"]) == Some(USER)
        && skew <= 5
        && tok.text_at(&["Password"]) == Some(&password_digest(&nonce, created, PASS))
}

fn sdt(t: Timestamp) -> String {
    let d = t.to_zoned(jiff::tz::TimeZone::UTC);
    format!(
        "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>Manual</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings><tt:UTCDateTime><tt:Time><tt:Hour>{}</tt:Hour><tt:Minute>{}</tt:Minute><tt:Second>{}</tt:Second></tt:Time><tt:Date><tt:Year>{}</tt:Year><tt:Month>{}</tt:Month><tt:Day>{}</tt:Day></tt:Date></tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>",
        d.hour(),
        d.minute(),
        d.second(),
        d.year(),
        d.month(),
        d.day()
    )
}

fn not_authorized(status: &str) -> Vec<u8> {
    response(
        status,
        &[("Content-Type", "application/soap+xml")],
        envelope("<SOAP-ENV:Fault><SOAP-ENV:Code><SOAP-ENV:Value>SOAP-ENV:Sender</SOAP-ENV:Value><SOAP-ENV:Subcode><SOAP-ENV:Value>ter:NotAuthorized</SOAP-ENV:Value></SOAP-ENV:Subcode></SOAP-ENV:Code><SOAP-ENV:Reason><SOAP-ENV:Text xml:lang=\"en\">Sender not Authorized</SOAP-ENV:Text></SOAP-ENV:Reason></SOAP-ENV:Fault>").as_bytes(),
    )
}

fn action_not_supported_200() -> Vec<u8> {
    soap_ok(
        "<SOAP-ENV:Fault><SOAP-ENV:Code><SOAP-ENV:Value>SOAP-ENV:Receiver</SOAP-ENV:Value><SOAP-ENV:Subcode><SOAP-ENV:Value>ter:ActionNotSupported</SOAP-ENV:Value></SOAP-ENV:Subcode></SOAP-ENV:Code><SOAP-ENV:Reason><SOAP-ENV:Text>Optional Action Not Implemented</SOAP-ENV:Text></SOAP-ENV:Reason></SOAP-ENV:Fault>",
    )
}

const JPEG: &[u8] = b"\xFF\xD8\xFF\xE0fakejpeg\xFF\xD9";

/// A Media1-only camera at an "unreachable" 10.255.255.1 whose clock is an hour ahead, using
/// WS-Security for SOAP and HTTP Digest for snapshots.
fn media1_camera(port_holder: Arc<std::sync::OnceLock<u16>>) -> super::http::testserver::Handler {
    Arc::new(move |req: &Seen, _| {
        let port = *port_holder.get().unwrap();
        let camera_now = Timestamp::now() + SignedDuration::from_hours(1);
        if req.head.starts_with("GET /snap.jpg") {
            return match req.header("Authorization") {
                Some(a) if a.starts_with("Digest ") && a.contains("username=\"admin\"") => {
                    response("200 OK", &[("Content-Type", "image/jpeg")], JPEG)
                }
                _ => response(
                    "401 Unauthorized",
                    &[(
                        "WWW-Authenticate",
                        r#"Digest realm="cam", nonce="n1", qop="auth", algorithm=MD5"#,
                    )],
                    b"",
                ),
            };
        }
        let op = op_of(req);
        if op == "GetSystemDateAndTime" {
            return soap_ok(&sdt(camera_now));
        }
        if !ws_security_ok(req, camera_now) {
            return not_authorized("400 Bad Request");
        }
        let ip = "10.255.255.1";
        match op.as_str() {
            "GetServices" => soap_ok(&format!(
                "<tds:GetServicesResponse><tds:Service><tds:Namespace>http://www.onvif.org/ver10/device/wsdl</tds:Namespace><tds:XAddr>http://{ip}/onvif/device_service</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>6</tt:Minor></tds:Version></tds:Service><tds:Service><tds:Namespace>http://www.onvif.org/ver10/media/wsdl</tds:Namespace><tds:XAddr>http://{ip}/onvif/Media</tds:XAddr></tds:Service></tds:GetServicesResponse>"
            )),
            "GetDeviceInformation" => soap_ok(
                "<tds:GetDeviceInformationResponse><tds:Manufacturer>Cheap&amp;Co</tds:Manufacturer><tds:Model>IPC-1</tds:Model><tds:FirmwareVersion>V5.5</tds:FirmwareVersion><tds:SerialNumber>SN1</tds:SerialNumber><tds:HardwareId>HW1</tds:HardwareId></tds:GetDeviceInformationResponse>",
            ),
            "GetProfiles" => {
                assert!(req.head.starts_with("POST /onvif/Media "), "{}", req.head);
                soap_ok(
                    "<trt:GetProfilesResponse><trt:Profiles token=\"000\" fixed=\"true\"><tt:Name>main</tt:Name><tt:VideoEncoderConfiguration token=\"v0\"><tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>1280</tt:Width><tt:Height>720</tt:Height></tt:Resolution><tt:RateControl><tt:FrameRateLimit>20</tt:FrameRateLimit><tt:BitrateLimit>1024</tt:BitrateLimit></tt:RateControl></tt:VideoEncoderConfiguration></trt:Profiles><trt:Profiles token=\"001\"><tt:Name>sub</tt:Name></trt:Profiles></trt:GetProfilesResponse>",
                )
            }
            "GetStreamUri" => {
                let token = if req.body.contains(">001<") {
                    "sub"
                } else {
                    "main"
                };
                soap_ok(&format!(
                    "<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>rtsp://{ip}:554/{token}</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect></trt:MediaUri></trt:GetStreamUriResponse>"
                ))
            }
            "GetSnapshotUri" => {
                if req.body.contains(">001<") {
                    action_not_supported_200()
                } else {
                    soap_ok(&format!(
                        "<trt:GetSnapshotUriResponse><trt:MediaUri><tt:Uri>http://{ip}:{port}/snap.jpg</tt:Uri></trt:MediaUri></trt:GetSnapshotUriResponse>"
                    ))
                }
            }
            "GetVideoEncoderConfigurations" => soap_ok(
                "<trt:GetVideoEncoderConfigurationsResponse><trt:Configurations token=\"v1\"><tt:Encoding>JPEG</tt:Encoding></trt:Configurations></trt:GetVideoEncoderConfigurationsResponse>",
            ),
            _ => action_not_supported_200(),
        }
    })
}

async fn media1() -> (String, Arc<std::sync::Mutex<Vec<Seen>>>) {
    let holder = Arc::new(std::sync::OnceLock::new());
    let (base, seen) = start(media1_camera(holder.clone())).await;
    let port: u16 = base.rsplit(':').next().unwrap().parse().unwrap();
    holder.set(port).unwrap();
    (base, seen)
}

#[tokio::test]
async fn media1_camera_clock_one_hour_ahead_unreachable_xaddrs() {
    let (base, _seen) = media1().await;
    let dev = OnvifDevice::connect(
        &format!("{base}/onvif/device_service"),
        Some(Credentials::new(USER, PASS)),
        ClientOptions::default(),
    )
    .await
    .unwrap();
    let off = dev.clock_offset().as_secs();
    assert!((3595..=3605).contains(&off), "offset {off}");
    // 10.255.255.1 was rewritten to the host we reached, port included.
    assert_eq!(
        dev.services().media.as_ref().unwrap().as_str(),
        format!("{base}/onvif/Media")
    );
    assert!(dev.services().media2.is_none());

    let info = dev.device_information().await.unwrap();
    assert_eq!(info.manufacturer, "Cheap&Co");
    assert_eq!(info.model, "IPC-1");
    assert_eq!(
        dev.auth_method(),
        Some(AuthMethod {
            ws_security: true,
            http: None
        })
    );

    let profiles = dev.profiles().await.unwrap();
    assert_eq!(profiles.len(), 2);
    let main = &profiles[0];
    assert_eq!(main.encoding.as_deref(), Some("H264"));
    assert_eq!(
        (main.width, main.height, main.fps, main.bitrate_kbps),
        (Some(1280), Some(720), Some(20.0), Some(1024))
    );
    assert_eq!(
        main.stream_uri.as_deref(),
        Some("rtsp://127.0.0.1:554/main")
    );
    let port = base.rsplit(':').next().unwrap();
    assert_eq!(
        main.snapshot_uri.clone().unwrap(),
        format!("http://127.0.0.1:{port}/snap.jpg")
    );
    // GetSnapshotUri faulted (HTTP 200 fault) for the sub profile: None, not an error.
    assert_eq!(
        profiles[1].stream_uri.as_deref(),
        Some("rtsp://127.0.0.1:554/sub")
    );
    assert_eq!(profiles[1].snapshot_uri, None);

    let jpeg = dev.snapshot(main).await.unwrap();
    assert_eq!(&jpeg[..], JPEG);
    let e = dev.snapshot(&profiles[1]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol);
}

#[tokio::test]
async fn wrong_password_stops_after_bounded_attempts() {
    let (base, seen) = media1().await;
    let e = OnvifDevice::connect(
        &base,
        Some(Credentials::new(USER, "wrong-password-123")),
        ClientOptions::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    let text = format!("{e} {e:?}");
    assert!(!text.contains("wrong-password-123"), "{text}");
    let seen = seen.lock().unwrap();
    let authed = seen
        .iter()
        .filter(|s| s.body.contains("UsernameToken"))
        .count();
    // One try, one retry after re-measuring the clock; never more.
    assert_eq!(
        authed,
        2,
        "{:?}",
        seen.iter().map(op_of).collect::<Vec<_>>()
    );
    assert!(seen.len() <= 4);
}

#[tokio::test]
async fn no_credentials_gives_auth_error() {
    let (base, _) = media1().await;
    let e = OnvifDevice::connect(&base, None, ClientOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
}

/// A Media2 camera that needs HTTP Digest for everything (even GetSystemDateAndTime), answers
/// in SOAP 1.1 style, and whose GetServices faults with HTTP 500 on the first call.
fn digest_camera(algorithm: &'static str) -> super::http::testserver::Handler {
    Arc::new(move |req: &Seen, _| {
        let challenge = format!(
            r#"Digest realm="IP Camera", nonce="abc123", qop="auth", algorithm={algorithm}"#
        );
        let authz = req.header("Authorization").unwrap_or_default();
        if !authz.starts_with("Digest ") {
            return response(
                "401 Unauthorized",
                &[("WWW-Authenticate", &challenge)],
                b"<html>401</html>",
            );
        }
        let ok = verify_digest(&authz, algorithm, "POST");
        if !ok {
            return response("401 Unauthorized", &[("WWW-Authenticate", &challenge)], b"");
        }
        let soap11 = |body: &str| {
            response(
                "200 OK",
                &[("Content-Type", "text/xml")],
                format!(r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>{body}</s:Body></s:Envelope>"#).as_bytes(),
            )
        };
        let host = req.header("Host").unwrap();
        match op_of(req).as_str() {
            "GetSystemDateAndTime" => soap_ok(&sdt(Timestamp::now())),
            "GetServices" => soap11(&format!(
                r#"<d:GetServicesResponse xmlns:d="http://www.onvif.org/ver10/device/wsdl"><d:Service><d:Namespace>http://www.onvif.org/ver10/media/wsdl</d:Namespace><d:XAddr>http://{host}/media1</d:XAddr></d:Service><d:Service><d:Namespace>http://www.onvif.org/ver20/media/wsdl</d:Namespace><d:XAddr>http://{host}/media2</d:XAddr></d:Service></d:GetServicesResponse>"#
            )),
            "GetProfiles" => {
                assert!(req.head.starts_with("POST /media2 "), "{}", req.head);
                assert!(req.body.contains(">All<"));
                soap11(r#"<m:GetProfilesResponse xmlns:m="http://www.onvif.org/ver20/media/wsdl" xmlns:t="http://www.onvif.org/ver10/schema"><m:Profiles token="P0"><m:Name>h265</m:Name><m:Configurations><m:VideoEncoder token="E0"><t:Encoding>H265</t:Encoding><t:Resolution><t:Width>2560</t:Width><t:Height>1440</t:Height></t:Resolution><t:RateControl><t:FrameRateLimit>15</t:FrameRateLimit><t:BitrateLimit>2048</t:BitrateLimit></t:RateControl></m:VideoEncoder></m:Configurations></m:Profiles></m:GetProfilesResponse>"#)
            }
            "GetStreamUri" => {
                assert!(req.body.contains("Protocol>RTSP<"));
                soap11(r#"<m:GetStreamUriResponse xmlns:m="http://www.onvif.org/ver20/media/wsdl"><m:Uri>rtsp://127.0.0.1/h265</m:Uri></m:GetStreamUriResponse>"#)
            }
            "GetSnapshotUri" => response(
                "500 Internal Server Error",
                &[("Content-Type", "text/xml")],
                br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Receiver</faultcode><faultstring>not supported</faultstring></s:Fault></s:Body></s:Envelope>"#,
            ),
            _ => action_not_supported_200(),
        }
    })
}

fn verify_digest(authz: &str, algorithm: &str, method: &str) -> bool {
    use sha2::Digest as _;
    let field = |name: &str| -> String {
        let Some(i) = authz
            .find(&format!(" {name}="))
            .or_else(|| authz.find(&format!(",{name}=")))
        else {
            return String::new();
        };
        let rest = &authz[i + name.len() + 2..];
        let rest = rest.strip_prefix('"').unwrap_or(rest);
        rest.split(['"', ',']).next().unwrap_or("").to_string()
    };
    let h = |s: String| -> String {
        if algorithm == "SHA-256" {
            format!("{:x}", sha2::Sha256::digest(s.as_bytes()))
        } else {
            format!("{:x}", md5::Md5::digest(s.as_bytes()))
        }
    };
    let ha1 = h(format!("{}:IP Camera:{PASS}", field("username")));
    let ha2 = h(format!("{method}:{}", field("uri")));
    let expect = h(format!(
        "{ha1}:{}:{}:{}:auth:{ha2}",
        field("nonce"),
        field("nc"),
        field("cnonce")
    ));
    field("response") == expect
}

#[tokio::test]
async fn media2_camera_with_http_digest_everywhere() {
    for (alg, scheme) in [
        ("MD5", HttpAuthScheme::DigestMd5),
        ("SHA-256", HttpAuthScheme::DigestSha256),
    ] {
        let (base, seen) = start(digest_camera(alg)).await;
        let dev = OnvifDevice::connect(
            &base,
            Some(Credentials::new(USER, PASS)),
            ClientOptions::default(),
        )
        .await
        .unwrap();
        assert_eq!(dev.media_service().unwrap().0, MediaVersion::Media2);
        let p = dev.profiles().await.unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].encoding.as_deref(), Some("H265"));
        assert_eq!((p[0].width, p[0].height), (Some(2560), Some(1440)));
        assert_eq!(p[0].stream_uri.as_deref(), Some("rtsp://127.0.0.1/h265"));
        // HTTP 500 SOAP 1.1 fault on GetSnapshotUri, also on the Media1 fallback: no URI.
        assert_eq!(p[0].snapshot_uri, None);
        assert_eq!(dev.auth_method().unwrap().http, Some(scheme));
        // After the first 401 the device's challenge is remembered: no more 401 round trips.
        let seen = seen.lock().unwrap();
        let unauth = seen
            .iter()
            .filter(|s| s.header("Authorization").is_none())
            .count();
        assert_eq!(unauth, 1, "{alg}");
    }
}

#[tokio::test]
async fn wrong_digest_password_is_one_failed_login() {
    let (base, seen) = start(digest_camera("MD5")).await;
    let e = OnvifDevice::connect(
        &base,
        Some(Credentials::new(USER, "nope")),
        ClientOptions::default(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    let seen = seen.lock().unwrap();
    let failed_logins = seen
        .iter()
        .filter(|s| s.header("Authorization").is_some())
        .count();
    assert_eq!(failed_logins, 1);
}

#[tokio::test]
async fn get_services_unsupported_falls_back_to_capabilities() {
    let (base, _) = start(Arc::new(|req: &Seen, _| match op_of(req).as_str() {
        "GetSystemDateAndTime" => soap_ok(&sdt(Timestamp::now())),
        "GetCapabilities" => soap_ok("<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Device><tt:XAddr>http://0.0.0.0/onvif/device_service</tt:XAddr></tt:Device><tt:Events><tt:XAddr>http://0.0.0.0/onvif/events</tt:XAddr><tt:WSPullPointSupport>true</tt:WSPullPointSupport></tt:Events><tt:Media><tt:XAddr>http://0.0.0.0/onvif/media</tt:XAddr><tt:StreamingCapabilities><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media></tds:Capabilities></tds:GetCapabilitiesResponse>"),
        _ => response(
            "500 Internal Server Error",
            &[("Content-Type", "application/soap+xml")],
            envelope("<SOAP-ENV:Fault><SOAP-ENV:Code><SOAP-ENV:Value>SOAP-ENV:Receiver</SOAP-ENV:Value></SOAP-ENV:Code><SOAP-ENV:Reason><SOAP-ENV:Text>unknown</SOAP-ENV:Text></SOAP-ENV:Reason></SOAP-ENV:Fault>").as_bytes(),
        ),
    }))
    .await;
    let dev = OnvifDevice::connect(&base, None, ClientOptions::default())
        .await
        .unwrap();
    assert_eq!(
        dev.services().media.as_ref().unwrap().as_str(),
        format!("{base}/onvif/media")
    );
    assert_eq!(
        dev.services().events.as_ref().unwrap().as_str(),
        format!("{base}/onvif/events")
    );
    let e = dev.device_information().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol);
    assert_eq!(e.fault().unwrap().http_status, 500);
}

#[tokio::test]
async fn rewrite_can_be_turned_off() {
    let (base, _) = media1().await;
    let dev = OnvifDevice::connect(
        &base,
        Some(Credentials::new(USER, PASS)),
        ClientOptions {
            rewrite_hosts: false,
            ..ClientOptions::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        dev.services().media.as_ref().unwrap().as_str(),
        "http://10.255.255.1/onvif/Media"
    );
}

#[tokio::test]
async fn oversized_and_hostile_soap_answers_are_typed_errors() {
    let (base, _) = start(Arc::new(|req: &Seen, i| {
        if op_of(req) == "GetSystemDateAndTime" && i == 0 {
            return soap_ok(&sdt(Timestamp::now()));
        }
        match op_of(req).as_str() {
            "GetServices" => soap_ok("<tds:GetServicesResponse/>"),
            "GetCapabilities" => soap_ok("<tds:GetCapabilitiesResponse/>"),
            _ => {
                let n = i % 4;
                match n {
                    0 => response(
                        "200 OK",
                        &[],
                        b"<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaa\">]><x>&a;</x>",
                    ),
                    1 => response(
                        "200 OK",
                        &[],
                        format!("{}{}", "<a>".repeat(5000), "</a>".repeat(5000)).as_bytes(),
                    ),
                    2 => b"HTTP/1.1 200 OK\r\nContent-Length: 104857600\r\n\r\n".to_vec(),
                    _ => response(
                        "200 OK",
                        &[],
                        envelope("<tds:GetDeviceInformationResponse>").as_bytes(),
                    ),
                }
            }
        }
    }))
    .await;
    let dev = OnvifDevice::connect(&base, None, ClientOptions::default())
        .await
        .unwrap();
    for _ in 0..4 {
        let e = dev.device_information().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    }
}

#[tokio::test]
async fn pull_point_events_and_reference_parameters() {
    let (base, seen) = start(Arc::new(|req: &Seen, _| {
        let host = req.header("Host").unwrap();
        match op_of(req).as_str() {
            "GetSystemDateAndTime" => soap_ok(&sdt(Timestamp::now())),
            "GetServices" => soap_ok(&format!("<tds:GetServicesResponse><tds:Service><tds:Namespace>http://www.onvif.org/ver10/events/wsdl</tds:Namespace><tds:XAddr>http://{host}/events</tds:XAddr></tds:Service><tds:Service><tds:Namespace>http://www.onvif.org/ver10/media/wsdl</tds:Namespace><tds:XAddr>http://{host}/media</tds:XAddr></tds:Service></tds:GetServicesResponse>")),
            "CreatePullPointSubscription" => soap_ok("<tev:CreatePullPointSubscriptionResponse xmlns:tev=\"http://www.onvif.org/ver10/events/wsdl\" xmlns:wsa5=\"http://www.w3.org/2005/08/addressing\"><tev:SubscriptionReference><wsa5:Address>http://192.168.0.9/events/sub1</wsa5:Address><wsa5:ReferenceParameters><dom0:SubscriptionId xmlns:dom0=\"http://www.axis.com/2009/event\">77</dom0:SubscriptionId></wsa5:ReferenceParameters></tev:SubscriptionReference><wsnt:CurrentTime xmlns:wsnt=\"http://docs.oasis-open.org/wsn/b-2\">2024-01-01T00:00:00Z</wsnt:CurrentTime><wsnt:TerminationTime xmlns:wsnt=\"http://docs.oasis-open.org/wsn/b-2\">2024-01-01T00:01:00Z</wsnt:TerminationTime></tev:CreatePullPointSubscriptionResponse>"),
            "PullMessages" => {
                assert!(req.head.starts_with("POST /events/sub1 "), "{}", req.head);
                assert!(req.body.contains(r#"<rp:SubscriptionId xmlns:rp="http://www.axis.com/2009/event">77</rp:SubscriptionId>"#), "{}", req.body);
                assert!(req.body.contains("<wsa:To xmlns:wsa=\"http://www.w3.org/2005/08/addressing\">http://192.168.0.9/events/sub1</wsa:To>"));
                soap_ok("<tev:PullMessagesResponse xmlns:tev=\"http://www.onvif.org/ver10/events/wsdl\" xmlns:wsnt=\"http://docs.oasis-open.org/wsn/b-2\"><tev:CurrentTime>2024-01-01T00:00:01Z</tev:CurrentTime><tev:TerminationTime>2024-01-01T00:01:00Z</tev:TerminationTime><wsnt:NotificationMessage><wsnt:Topic>tns1:VideoSource/MotionAlarm</wsnt:Topic><wsnt:Message><tt:Message UtcTime=\"2024-01-01T00:00:01Z\"><tt:Source><tt:SimpleItem Name=\"Source\" Value=\"VS1\"/></tt:Source><tt:Data><tt:SimpleItem Name=\"State\" Value=\"true\"/></tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage></tev:PullMessagesResponse>")
            }
            "Renew" => action_not_supported_200(),
            "Unsubscribe" => soap_ok("<wsnt:UnsubscribeResponse xmlns:wsnt=\"http://docs.oasis-open.org/wsn/b-2\"/>"),
            _ => action_not_supported_200(),
        }
    }))
    .await;
    let dev = OnvifDevice::connect(&base, None, ClientOptions::default())
        .await
        .unwrap();
    let mut pp = dev.pull_point(PullPointOptions::default()).await.unwrap();
    assert_eq!(pp.address().as_str(), format!("{base}/events/sub1"));
    let ev = pp.pull().await.unwrap();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].kind, EventKind::Motion(true));
    assert_eq!(
        ev[0].source,
        vec![("Source".to_string(), "VS1".to_string())]
    );
    pp.unsubscribe().await.unwrap();
    let ops: Vec<String> = seen.lock().unwrap().iter().map(op_of).collect();
    assert_eq!(ops.last().map(String::as_str), Some("Unsubscribe"));
}

#[tokio::test]
async fn ptz_calls() {
    let (base, seen) = start(Arc::new(|req: &Seen, _| {
        let host = req.header("Host").unwrap();
        match op_of(req).as_str() {
            "GetSystemDateAndTime" => soap_ok(&sdt(Timestamp::now())),
            "GetServices" => soap_ok(&format!("<tds:GetServicesResponse><tds:Service><tds:Namespace>http://www.onvif.org/ver20/ptz/wsdl</tds:Namespace><tds:XAddr>http://{host}/ptz</tds:XAddr></tds:Service><tds:Service><tds:Namespace>http://www.onvif.org/ver10/media/wsdl</tds:Namespace><tds:XAddr>http://{host}/media</tds:XAddr></tds:Service></tds:GetServicesResponse>")),
            "GetPresets" => soap_ok("<tptz:GetPresetsResponse xmlns:tptz=\"http://www.onvif.org/ver20/ptz/wsdl\"><tptz:Preset token=\"p1\"><tt:Name>Door</tt:Name></tptz:Preset></tptz:GetPresetsResponse>"),
            "GotoPreset" | "ContinuousMove" | "Stop" => soap_ok(&format!("<tptz:{0}Response xmlns:tptz=\"http://www.onvif.org/ver20/ptz/wsdl\"/>", op_of(req))),
            _ => action_not_supported_200(),
        }
    }))
    .await;
    let dev = OnvifDevice::connect(&base, None, ClientOptions::default())
        .await
        .unwrap();
    let ptz = dev.ptz().unwrap();
    let presets = ptz.presets("prof").await.unwrap();
    assert_eq!(presets[0].name, "Door");
    ptz.goto_preset("prof", "p1").await.unwrap();
    ptz.continuous_move(
        "prof",
        PtzVelocity {
            pan: 0.5,
            tilt: -2.0,
            zoom: 0.0,
        },
        Some(std::time::Duration::from_millis(1500)),
    )
    .await
    .unwrap();
    ptz.stop("prof", true, true).await.unwrap();
    let seen = seen.lock().unwrap();
    let mv = seen.iter().find(|s| op_of(s) == "ContinuousMove").unwrap();
    assert!(
        mv.body.contains(r#"<tt:PanTilt x="0.5" y="-1"/>"#),
        "{}",
        mv.body
    );
    assert!(mv.body.contains("<tptz:Timeout>PT1.500S</tptz:Timeout>"));
}

#[tokio::test]
async fn system_date_and_time_needing_ws_security() {
    let (base, seen) = start(Arc::new(|req: &Seen, _| {
        if !ws_security_ok(req, Timestamp::now()) {
            return not_authorized("500 Internal Server Error");
        }
        let host = req.header("Host").unwrap();
        match op_of(req).as_str() {
            "GetSystemDateAndTime" => soap_ok(&sdt(Timestamp::now())),
            "GetServices" => soap_ok(&format!("<tds:GetServicesResponse><tds:Service><tds:Namespace>http://www.onvif.org/ver10/media/wsdl</tds:Namespace><tds:XAddr>http://{host}/media</tds:XAddr></tds:Service></tds:GetServicesResponse>")),
            _ => action_not_supported_200(),
        }
    }))
    .await;
    let dev = OnvifDevice::connect(
        &base,
        Some(Credentials::new(USER, PASS)),
        ClientOptions::default(),
    )
    .await
    .unwrap();
    assert!(dev.services().media.is_some());
    let ops: Vec<(String, bool)> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| (op_of(s), s.body.contains("UsernameToken")))
        .collect();
    assert_eq!(
        ops,
        vec![
            ("GetSystemDateAndTime".to_string(), false),
            ("GetSystemDateAndTime".to_string(), true),
            ("GetServices".to_string(), true),
        ]
    );
}

/// A camera whose subscriptions live 3 s: the first Renew works, the second is refused
/// (ActionNotSupported: old firmware), so the client unsubscribes and subscribes again; then
/// the camera "reboots" and forgets that subscription (ResourceUnknown on PullMessages), so the
/// client subscribes once more and the pull goes through. Every pull returns its event.
#[tokio::test]
async fn pull_point_renews_resubscribes_and_survives_a_forgotten_subscription() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let creates = Arc::new(AtomicUsize::new(0));
    let renews = Arc::new(AtomicUsize::new(0));
    let (c, r) = (creates.clone(), renews.clone());
    let (base, seen) = start(Arc::new(move |req: &Seen, _| {
        let host = req.header("Host").unwrap();
        let now = Timestamp::now();
        let times = format!(
            "<wsnt:CurrentTime>{now}</wsnt:CurrentTime><wsnt:TerminationTime>{}</wsnt:TerminationTime>",
            now + SignedDuration::from_secs(3)
        );
        let wsnt = "xmlns:wsnt=\"http://docs.oasis-open.org/wsn/b-2\"";
        match op_of(req).as_str() {
            "GetSystemDateAndTime" => soap_ok(&sdt(now)),
            "GetServices" => soap_ok(&format!("<tds:GetServicesResponse><tds:Service><tds:Namespace>http://www.onvif.org/ver10/events/wsdl</tds:Namespace><tds:XAddr>http://{host}/events</tds:XAddr></tds:Service><tds:Service><tds:Namespace>http://www.onvif.org/ver10/media/wsdl</tds:Namespace><tds:XAddr>http://{host}/media</tds:XAddr></tds:Service></tds:GetServicesResponse>")),
            "CreatePullPointSubscription" => {
                let n = c.fetch_add(1, Ordering::SeqCst) + 1;
                soap_ok(&format!("<tev:CreatePullPointSubscriptionResponse xmlns:tev=\"http://www.onvif.org/ver10/events/wsdl\" xmlns:wsa5=\"http://www.w3.org/2005/08/addressing\" {wsnt}><tev:SubscriptionReference><wsa5:Address>http://{host}/events/sub{n}</wsa5:Address></tev:SubscriptionReference>{times}</tev:CreatePullPointSubscriptionResponse>"))
            }
            "Renew" => {
                if r.fetch_add(1, Ordering::SeqCst) == 0 {
                    soap_ok(&format!("<wsnt:RenewResponse {wsnt}>{times}</wsnt:RenewResponse>"))
                } else {
                    action_not_supported_200()
                }
            }
            "PullMessages" if req.head.starts_with("POST /events/sub2 ") => response(
                "400 Bad Request",
                &[("Content-Type", "application/soap+xml")],
                envelope("<SOAP-ENV:Fault><SOAP-ENV:Code><SOAP-ENV:Value>SOAP-ENV:Sender</SOAP-ENV:Value><SOAP-ENV:Subcode><SOAP-ENV:Value>wsrf-rw:ResourceUnknownFault</SOAP-ENV:Value></SOAP-ENV:Subcode></SOAP-ENV:Code><SOAP-ENV:Reason><SOAP-ENV:Text>No such subscription</SOAP-ENV:Text></SOAP-ENV:Reason></SOAP-ENV:Fault>").as_bytes(),
            ),
            "PullMessages" => soap_ok(&format!("<tev:PullMessagesResponse xmlns:tev=\"http://www.onvif.org/ver10/events/wsdl\" {wsnt}>{times}<wsnt:NotificationMessage><wsnt:Topic>tns1:RuleEngine/CellMotionDetector/Motion</wsnt:Topic><wsnt:Message><tt:Message UtcTime=\"{now}\"><tt:Data><tt:SimpleItem Name=\"IsMotion\" Value=\"true\"/></tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage></tev:PullMessagesResponse>")),
            "Unsubscribe" => soap_ok(&format!("<wsnt:UnsubscribeResponse {wsnt}/>")),
            _ => action_not_supported_200(),
        }
    }))
    .await;
    let dev = OnvifDevice::connect(&base, None, ClientOptions::default())
        .await
        .unwrap();
    let opts = PullPointOptions {
        termination: std::time::Duration::from_secs(10),
        pull_timeout: std::time::Duration::from_secs(1),
        ..Default::default()
    };
    let mut pp = dev.pull_point(opts).await.unwrap();
    // 3 s left is inside the renewal margin (pull timeout + 2 s): each pull renews first.
    for _ in 0..2 {
        let ev = pp.pull().await.unwrap();
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].kind, EventKind::Motion(true));
    }
    let events_ops: Vec<(String, String)> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| (op_of(s), s.head.split(' ').nth(1).unwrap_or("").to_string()))
        .filter(|(op, _)| {
            !matches!(
                op.as_str(),
                "GetSystemDateAndTime" | "GetServices" | "GetCapabilities"
            )
        })
        .collect();
    let want: Vec<(&str, &str)> = vec![
        ("CreatePullPointSubscription", "/events"),
        ("Renew", "/events/sub1"),
        ("PullMessages", "/events/sub1"),
        ("Renew", "/events/sub1"),
        ("Unsubscribe", "/events/sub1"),
        ("CreatePullPointSubscription", "/events"),
        ("PullMessages", "/events/sub2"),
        ("CreatePullPointSubscription", "/events"),
        ("PullMessages", "/events/sub3"),
    ];
    let got: Vec<(&str, &str)> = events_ops
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(pp.address().as_str(), format!("{base}/events/sub3"));
}

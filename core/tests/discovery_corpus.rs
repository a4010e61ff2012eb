//! WS-Discovery as devices in the field send it: a corpus of ProbeMatches, Hello and Bye
//! messages under `tests/fixtures/discovery/`, written after public captures (Hikvision, Dahua,
//! Axis, Hanwha, Uniview, TP-Link VIGI, Reolink, gSOAP-based firmware, an old SOAP 1.1 camera,
//! and Python/Node virtual cameras, one of which sends `ProbeMatch` without `ProbeMatches`).
//!
//! - One named test per fixture parses it and checks every field a user sees.
//! - `unicast_discovery_finds_every_fixture` serves each reply from a UDP socket on a 127.0.0.x
//!   address (a port other than 3702, answering from yet another port for half of them) and
//!   runs the real unicast discovery against it.
//! - `multicast_discovery_finds_every_fixture` and `multicast_hello_and_bye` need multicast on
//!   loopback and the fixtures' own addresses routed to `lo`; they skip themselves unless
//!   CAMWIRE_MULTICAST_TESTS=1, and `core/tests/run_multicast_discovery.sh` runs them in a
//!   private network namespace where both hold.
//!
//! The fixtures answer the probe `urn:uuid:0a6dc791-2be6-4991-9af1-454778a1917a` (some echo it
//! as `uuid:`, one in upper case); the responders put the real probe's UUID in its place.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use camwire::onvif::discovery::{
    self, Announcement, DiscoveredDevice, ListenerOptions, RelatesTo, parse_announcement,
    parse_probe_reply,
};
use camwire::onvif::xml::{self, XmlLimits};
use camwire::onvif::{DiscoveryListener, DiscoveryOptions};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

/// The probe MessageID the fixtures answer.
const FIXTURE_UUID: &str = "0a6dc791-2be6-4991-9af1-454778a1917a";
const FIXTURE_MID: &str = "urn:uuid:0a6dc791-2be6-4991-9af1-454778a1917a";

/// A ProbeMatches fixture and what must come out of it.
struct Reply {
    file: &'static str,
    /// The address the device answers from (its XAddr is chosen by it).
    device_ip: &'static str,
    endpoint: &'static str,
    xaddr: &'static str,
    xaddrs: usize,
    types: &'static [&'static str],
    name: Option<&'static str>,
    hardware: Option<&'static str>,
    location: Option<&'static str>,
    profiles: &'static [&'static str],
    metadata_version: Option<u32>,
}

const HIKVISION: Reply = Reply {
    file: "probe_match_hikvision.xml",
    device_ip: "192.168.1.64",
    endpoint: "urn:uuid:3f3e8b20-1dd2-11b2-8000-bcbac2aa1b64",
    // Listed second, after the link-local address: chosen because the reply came from it.
    xaddr: "http://192.168.1.64/onvif/device_service",
    xaddrs: 3,
    types: &["dn:NetworkVideoTransmitter", "tds:Device"],
    name: Some("HIKVISION DS-2CD2143G2-IS"),
    hardware: Some("DS-2CD2143G2-IS"),
    location: Some("city/hangzhou"),
    profiles: &["Streaming", "G", "T"],
    metadata_version: Some(10),
};

const DAHUA: Reply = Reply {
    file: "probe_match_dahua.xml",
    device_ip: "192.168.1.108",
    endpoint: "uuid:2419d68a-2dd2-21b2-a205-4c11bf5a9e3d",
    xaddr: "http://192.168.1.108/onvif/device_service",
    xaddrs: 1,
    types: &["dn:NetworkVideoTransmitter", "tds:Device"],
    name: Some("Dahua"),
    hardware: Some("IPC-HFW2431S-S-S2"),
    location: Some("country/china"),
    profiles: &["Streaming", "T", "G"],
    metadata_version: Some(1),
};

const AXIS: Reply = Reply {
    file: "probe_match_axis.xml",
    device_ip: "192.168.0.90",
    endpoint: "urn:uuid:a70dd3e8-9c46-4c8d-8e2a-accc8e4d2a11",
    xaddr: "http://192.168.0.90/onvif/device_service",
    xaddrs: 3,
    types: &["tdn:NetworkVideoTransmitter", "tds:Device"],
    name: Some("AXIS M3045-V"),
    hardware: Some("M3045-V"),
    // `onvif://www.onvif.org/location/` with nothing after it: no location.
    location: None,
    profiles: &["Streaming", "G", "T"],
    metadata_version: Some(1),
};

const HANWHA: Reply = Reply {
    file: "probe_match_hanwha.xml",
    device_ip: "192.168.1.100",
    endpoint: "urn:uuid:5d2c4b6a-1e8f-4c3d-9b7a-00096f1c2d3e",
    // The IPv6 XAddr is listed first; the reply came over IPv4.
    xaddr: "http://192.168.1.100/onvif/device_service",
    xaddrs: 2,
    types: &["dn:NetworkVideoTransmitter", "tds:Device"],
    name: Some("XNV-8080R"),
    hardware: Some("XNV-8080R"),
    location: Some("Hanwha Vision"),
    profiles: &["Streaming", "G", "T", "M"],
    metadata_version: Some(1),
};

const UNIVIEW: Reply = Reply {
    file: "probe_match_uniview.xml",
    device_ip: "192.168.1.13",
    endpoint: "urn:uuid:4eb1a3c8-0001-0001-0001-48ea63a0c7d5",
    xaddr: "http://192.168.1.13:80/onvif/device_service",
    xaddrs: 1,
    types: &["tdn:NetworkVideoTransmitter"],
    name: Some("IPC"),
    hardware: Some("IPC2124LR3-PF40M-D"),
    location: Some("country/China"),
    profiles: &["Streaming", "T"],
    metadata_version: Some(1),
};

const TPLINK_VIGI: Reply = Reply {
    file: "probe_match_tplink_vigi.xml",
    device_ip: "192.168.0.60",
    endpoint: "uuid:3460a1b2-c3d4-3460-a1b2-3460a1b2c3d4",
    xaddr: "http://192.168.0.60:2020/onvif/device_service",
    xaddrs: 1,
    types: &["tdn:NetworkVideoTransmitter", "tds:Device"],
    name: Some("IPC"),
    hardware: Some("VIGI C340"),
    location: None,
    profiles: &["Streaming", "T"],
    metadata_version: Some(1),
};

const REOLINK: Reply = Reply {
    file: "probe_match_reolink.xml",
    device_ip: "192.168.1.50",
    endpoint: "urn:uuid:2419d68a-2dd2-21b2-a205-ec71db3f9a10",
    xaddr: "http://192.168.1.50:8000/onvif/device_service",
    xaddrs: 1,
    types: &["tdn:NetworkVideoTransmitter", "tds:Device"],
    name: Some("Front Door"),
    hardware: Some("RLC-810A"),
    location: Some("country/china"),
    profiles: &["Streaming", "T"],
    metadata_version: Some(1),
};

const GSOAP_WSDD2009: Reply = Reply {
    file: "probe_match_gsoap_wsdd2009.xml",
    device_ip: "10.20.30.40",
    endpoint: "urn:uuid:9d4f2a10-7b3c-4e8d-a1f2-0c1b2a3d4e5f",
    xaddr: "http://10.20.30.40:1000/onvif/device_service",
    xaddrs: 1,
    types: &["tdn:NetworkVideoTransmitter"],
    name: Some("TestDev"),
    hardware: Some("IPCAM-H264"),
    location: Some("Office/2nd floor"),
    profiles: &["S"],
    metadata_version: Some(0),
};

const SOAP11_LEGACY: Reply = Reply {
    file: "probe_match_soap11_legacy.xml",
    device_ip: "172.16.5.21",
    endpoint: "urn:uuid:1319d68a-1dd2-11b2-a105-F0BD2D7E9C21",
    xaddr: "http://172.16.5.21:80/onvif/device_service",
    xaddrs: 1,
    types: &["dn:NetworkVideoTransmitter"],
    name: Some("VIVOTEK"),
    hardware: Some("FD8136"),
    // The first of two location scopes.
    location: Some("country/taiwan"),
    profiles: &[],
    metadata_version: Some(1),
};

const PYTHON_NO_WRAPPER: Reply = Reply {
    file: "probe_match_python_virtual_no_wrapper.xml",
    device_ip: "192.168.1.111",
    endpoint: "urn:uuid:c1f6e2d0-8a7b-4c3e-9f12-5b6a7c8d9e0f",
    xaddr: "http://192.168.1.111:10000/onvif/device_service",
    xaddrs: 1,
    types: &["dn:NetworkVideoTransmitter"],
    name: Some("PythonSimCam"),
    hardware: Some("VirtualCamera"),
    location: Some("lab"),
    profiles: &["Streaming"],
    metadata_version: Some(1),
};

const NODE_DEFAULT_NS: Reply = Reply {
    file: "probe_match_node_default_ns.xml",
    device_ip: "10.0.0.42",
    endpoint: "urn:uuid:b8f2d6e4-0c1a-4e3b-8d5f-7a9c1e3b5d7f",
    xaddr: "http://10.0.0.42:8081/onvif/device_service",
    xaddrs: 1,
    types: &["dn:NetworkVideoTransmitter", "tds:Device"],
    name: Some("RPOS"),
    hardware: Some("Raspberry Pi 4"),
    location: Some("garage"),
    profiles: &["Streaming"],
    metadata_version: Some(1),
};

const REPLIES: &[&Reply] = &[
    &HIKVISION,
    &DAHUA,
    &AXIS,
    &HANWHA,
    &UNIVIEW,
    &TPLINK_VIGI,
    &REOLINK,
    &GSOAP_WSDD2009,
    &SOAP11_LEGACY,
    &PYTHON_NO_WRAPPER,
    &NODE_DEFAULT_NS,
];

/// A Hello or Bye fixture and what must come out of it.
struct Announce {
    file: &'static str,
    device_ip: &'static str,
    hello: bool,
    endpoint: &'static str,
    /// For a Hello: the XAddr chosen and the name scope.
    xaddr: Option<&'static str>,
    name: Option<&'static str>,
}

const ANNOUNCEMENTS: &[Announce] = &[
    Announce {
        file: "hello_hikvision.xml",
        device_ip: "192.168.1.64",
        hello: true,
        endpoint: "urn:uuid:3f3e8b20-1dd2-11b2-8000-bcbac2aa1b64",
        xaddr: Some("http://192.168.1.64/onvif/device_service"),
        name: Some("HIKVISION DS-2CD2143G2-IS"),
    },
    Announce {
        file: "hello_axis.xml",
        device_ip: "192.168.0.90",
        hello: true,
        endpoint: "urn:uuid:a70dd3e8-9c46-4c8d-8e2a-accc8e4d2a11",
        xaddr: Some("http://192.168.0.90/onvif/device_service"),
        name: Some("AXIS M3045-V"),
    },
    Announce {
        file: "hello_gsoap_wsdd2009.xml",
        device_ip: "10.20.30.40",
        hello: true,
        endpoint: "urn:uuid:9d4f2a10-7b3c-4e8d-a1f2-0c1b2a3d4e5f",
        xaddr: Some("http://10.20.30.40:1000/onvif/device_service"),
        name: Some("TestDev"),
    },
    Announce {
        file: "hello_python_virtual_no_header.xml",
        device_ip: "192.168.1.111",
        hello: true,
        endpoint: "urn:uuid:c1f6e2d0-8a7b-4c3e-9f12-5b6a7c8d9e0f",
        xaddr: Some("http://192.168.1.111:10000/onvif/device_service"),
        name: Some("PythonSimCam"),
    },
    Announce {
        file: "bye_hikvision.xml",
        device_ip: "192.168.1.64",
        hello: false,
        endpoint: "urn:uuid:3f3e8b20-1dd2-11b2-8000-bcbac2aa1b64",
        xaddr: None,
        name: None,
    },
    Announce {
        file: "bye_gsoap_wsdd2009.xml",
        device_ip: "10.20.30.40",
        hello: false,
        endpoint: "urn:uuid:9d4f2a10-7b3c-4e8d-a1f2-0c1b2a3d4e5f",
        xaddr: None,
        name: None,
    },
];

fn fixture(file: &str) -> String {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests",
        "fixtures",
        "discovery",
        file,
    ]
    .iter()
    .collect();
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn device_addr(ip: &str) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), 3702)
}

fn assert_device(r: &Reply, d: &DiscoveredDevice) {
    assert_eq!(d.endpoint_reference, r.endpoint, "{}", r.file);
    assert_eq!(d.xaddr.as_deref(), Some(r.xaddr), "{}", r.file);
    assert_eq!(d.xaddrs.len(), r.xaddrs, "{}: {:?}", r.file, d.xaddrs);
    assert_eq!(d.types, r.types, "{}", r.file);
    assert_eq!(d.name.as_deref(), r.name, "{}", r.file);
    assert_eq!(d.hardware.as_deref(), r.hardware, "{}", r.file);
    assert_eq!(d.location.as_deref(), r.location, "{}", r.file);
    assert_eq!(d.profiles, r.profiles, "{}", r.file);
    assert_eq!(d.metadata_version, r.metadata_version, "{}", r.file);
    assert!(
        d.scopes.iter().all(|s| !s.trim().is_empty()) && !d.scopes.is_empty(),
        "{}: {:?}",
        r.file,
        d.scopes
    );
}

/// Parses one fixture as the multicast path does (RelatesTo required) and checks it.
fn check_reply(r: &Reply) {
    let text = fixture(r.file);
    let devs = parse_probe_reply(
        text.as_bytes(),
        FIXTURE_MID,
        device_addr(r.device_ip),
        RelatesTo::Required,
    )
    .unwrap_or_else(|| panic!("{}: not accepted as a reply to our probe", r.file));
    assert_eq!(devs.len(), 1, "{}", r.file);
    assert_device(r, &devs[0]);
    // Another probe's reply is not ours, whatever the rule.
    let other = text
        .replace(FIXTURE_UUID, "0a6dc791-2be6-4991-9af1-000000000000")
        .replace(
            &FIXTURE_UUID.to_ascii_uppercase(),
            "0A6DC791-2BE6-4991-9AF1-000000000000",
        );
    for rule in [RelatesTo::Required, RelatesTo::IfPresent] {
        assert!(
            parse_probe_reply(
                other.as_bytes(),
                FIXTURE_MID,
                device_addr(r.device_ip),
                rule
            )
            .is_none(),
            "{}",
            r.file
        );
    }
    // No RelatesTo at all: unicast keeps it, multicast drops it.
    let bare = strip_relates_to(&text);
    let src = device_addr(r.device_ip);
    assert!(
        parse_probe_reply(bare.as_bytes(), FIXTURE_MID, src, RelatesTo::Required).is_none(),
        "{}",
        r.file
    );
    let devs = parse_probe_reply(bare.as_bytes(), FIXTURE_MID, src, RelatesTo::IfPresent)
        .unwrap_or_else(|| panic!("{}: unicast reply without RelatesTo dropped", r.file));
    assert_device(r, &devs[0]);
}

/// The fixture without its `RelatesTo` element (whatever its prefix).
fn strip_relates_to(text: &str) -> String {
    let at = text.find("RelatesTo").expect("fixture has a RelatesTo");
    let start = text[..at].rfind('<').unwrap();
    let close = "RelatesTo>";
    let after = at + "RelatesTo".len();
    let end = after + text[after..].find(close).unwrap() + close.len();
    let out = format!("{}{}", &text[..start], &text[end..]);
    assert!(!out.contains("RelatesTo"));
    out
}

/// The fixture as a reply to the probe `probe_mid`.
fn answer(text: &str, probe_mid: &str) -> String {
    let uuid = probe_mid
        .trim()
        .trim_start_matches("urn:")
        .trim_start_matches("uuid:");
    text.replace(FIXTURE_UUID, &uuid.to_ascii_lowercase())
        .replace(
            &FIXTURE_UUID.to_ascii_uppercase(),
            &uuid.to_ascii_uppercase(),
        )
}

fn probe_message_id(datagram: &[u8]) -> Option<String> {
    let root = xml::parse(datagram, &XmlLimits::default()).ok()?;
    root.path(&["Body", "Probe"])?;
    root.text_at(&["Header", "MessageID"]).map(str::to_owned)
}

macro_rules! named_reply_tests {
    ($($name:ident => $reply:expr),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                check_reply(&$reply);
            }
        )*
    };
}

named_reply_tests! {
    probe_match_hikvision => HIKVISION,
    probe_match_dahua => DAHUA,
    probe_match_axis => AXIS,
    probe_match_hanwha => HANWHA,
    probe_match_uniview => UNIVIEW,
    probe_match_tplink_vigi => TPLINK_VIGI,
    probe_match_reolink => REOLINK,
    probe_match_gsoap_wsdd2009 => GSOAP_WSDD2009,
    probe_match_soap11_legacy => SOAP11_LEGACY,
    probe_match_python_virtual_no_wrapper => PYTHON_NO_WRAPPER,
    probe_match_node_default_ns => NODE_DEFAULT_NS,
}

fn check_announcement(a: &Announce) {
    let text = fixture(a.file);
    let src = device_addr(a.device_ip);
    let got = parse_announcement(text.as_bytes(), src)
        .unwrap_or_else(|| panic!("{}: not read as Hello/Bye", a.file));
    assert_announcement(a, &got, src.ip());
    // A Hello or Bye is not a reply to a probe.
    assert!(parse_probe_reply(text.as_bytes(), FIXTURE_MID, src, RelatesTo::IfPresent).is_none());
}

fn assert_announcement(a: &Announce, got: &Announcement, from: IpAddr) {
    match (a.hello, got) {
        (true, Announcement::Hello(d)) => {
            assert_eq!(d.endpoint_reference, a.endpoint, "{}", a.file);
            assert_eq!(d.xaddr.as_deref(), a.xaddr, "{}", a.file);
            assert_eq!(d.name.as_deref(), a.name, "{}", a.file);
            assert_eq!(d.source.ip(), from, "{}", a.file);
            assert!(
                d.types
                    .iter()
                    .any(|t| t.ends_with(":NetworkVideoTransmitter")),
                "{}",
                a.file
            );
        }
        (
            false,
            Announcement::Bye {
                endpoint_reference,
                source,
            },
        ) => {
            assert_eq!(endpoint_reference, a.endpoint, "{}", a.file);
            assert_eq!(source.ip(), from, "{}", a.file);
        }
        (_, other) => panic!("{}: {other:?}", a.file),
    }
}

#[test]
fn hello_hikvision() {
    check_announcement(&ANNOUNCEMENTS[0]);
}

#[test]
fn hello_axis() {
    check_announcement(&ANNOUNCEMENTS[1]);
}

#[test]
fn hello_gsoap_wsdd2009() {
    check_announcement(&ANNOUNCEMENTS[2]);
}

#[test]
fn hello_python_virtual_no_header() {
    check_announcement(&ANNOUNCEMENTS[3]);
}

#[test]
fn bye_hikvision() {
    check_announcement(&ANNOUNCEMENTS[4]);
}

#[test]
fn bye_gsoap_wsdd2009() {
    check_announcement(&ANNOUNCEMENTS[5]);
}

#[test]
fn corpus_is_complete() {
    // Every file in the directory has its named test, and nothing else lives there.
    let dir: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "fixtures", "discovery"]
        .iter()
        .collect();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut known: Vec<String> = REPLIES
        .iter()
        .map(|r| r.file)
        .chain(ANNOUNCEMENTS.iter().map(|a| a.file))
        .map(str::to_owned)
        .collect();
    known.sort();
    assert_eq!(files, known);
    // The shape of issue 15's point 1 is among them.
    let no_wrapper = fixture(PYTHON_NO_WRAPPER.file);
    assert!(no_wrapper.contains(":ProbeMatch "));
    assert!(!no_wrapper.contains(":ProbeMatches>") && !no_wrapper.contains("<ProbeMatches"));
}

/// Serves one fixture on `ip` (any port but 3702): answers each probe with the fixture, its
/// `device_ip` rewritten to `ip`, from the probed socket or from another one (another port).
/// With `relates_to: false` the reply carries no RelatesTo.
async fn serve_unicast(
    r: &'static Reply,
    ip: Ipv4Addr,
    other_port: bool,
    relates_to: bool,
) -> (SocketAddr, tokio::task::JoinHandle<usize>) {
    let sock = UdpSocket::bind((ip, 0)).await.unwrap();
    let addr = sock.local_addr().unwrap();
    assert_ne!(addr.port(), 3702);
    let from_sock = if other_port {
        Some(UdpSocket::bind((ip, 0)).await.unwrap())
    } else {
        None
    };
    let mut text = fixture(r.file).replace(r.device_ip, &ip.to_string());
    if !relates_to {
        text = strip_relates_to(&text);
    }
    let task = tokio::spawn(async move {
        let mut buf = vec![0u8; 65535];
        let mut probes = 0;
        while let Ok(Ok((n, from))) =
            tokio::time::timeout(Duration::from_secs(3), sock.recv_from(&mut buf)).await
        {
            let Some(mid) = probe_message_id(&buf[..n]) else {
                continue;
            };
            probes += 1;
            let reply = answer(&text, &mid);
            let out = from_sock.as_ref().unwrap_or(&sock);
            out.send_to(reply.as_bytes(), from).await.unwrap();
        }
        probes
    });
    (addr, task)
}

async fn unicast_round(relates_to: bool) {
    let mut runs = tokio::task::JoinSet::new();
    for (i, r) in REPLIES.iter().copied().enumerate() {
        runs.spawn(async move {
            let ip = Ipv4Addr::new(127, 0, 0, 10 + i as u8);
            let other_port = i % 2 == 0;
            let (addr, responder) = serve_unicast(r, ip, other_port, relates_to).await;
            let found = discovery::probe_unicast(&addr.to_string(), Duration::from_millis(900))
                .await
                .unwrap();
            assert_eq!(found.len(), 1, "{}: {found:?}", r.file);
            let d = &found[0];
            let want = r.xaddr.replace(r.device_ip, &ip.to_string());
            assert_eq!(d.xaddr.as_deref(), Some(want.as_str()), "{}", r.file);
            assert_eq!(d.endpoint_reference, r.endpoint, "{}", r.file);
            assert_eq!(d.source.ip(), IpAddr::V4(ip), "{}", r.file);
            assert_ne!(d.source.port(), 3702, "{}", r.file);
            if other_port {
                assert_ne!(d.source.port(), addr.port(), "{}", r.file);
            }
            assert!(responder.await.unwrap() >= 1, "{}", r.file);
            r.file
        });
    }
    let mut done = Vec::new();
    while let Some(res) = runs.join_next().await {
        done.push(res.unwrap());
    }
    assert_eq!(done.len(), REPLIES.len());
}

#[tokio::test]
async fn unicast_discovery_finds_every_fixture() {
    unicast_round(true).await;
}

#[tokio::test]
async fn unicast_discovery_accepts_replies_without_relates_to() {
    unicast_round(false).await;
}

#[tokio::test]
async fn listener_hears_every_announcement_unicast() {
    let mut l = DiscoveryListener::bind(ListenerOptions {
        interfaces: vec!["127.0.0.1".into()],
        port: 0,
    })
    .await
    .unwrap();
    let port = l.local_addr().unwrap().port();
    for (i, a) in ANNOUNCEMENTS.iter().enumerate() {
        let ip = Ipv4Addr::new(127, 0, 0, 40 + i as u8);
        let s = UdpSocket::bind((ip, 0)).await.unwrap();
        let text = fixture(a.file).replace(a.device_ip, &ip.to_string());
        s.send_to(text.as_bytes(), ("127.0.0.1", port))
            .await
            .unwrap();
        let got = tokio::time::timeout(Duration::from_secs(2), l.next())
            .await
            .unwrap_or_else(|_| panic!("{}: nothing heard", a.file))
            .unwrap();
        let rewritten = Announce {
            xaddr: a
                .xaddr
                .map(|x| &*x.replace(a.device_ip, &ip.to_string()).leak()),
            ..*a
        };
        assert_announcement(&rewritten, &got, IpAddr::V4(ip));
    }
}

fn multicast_enabled(test: &str) -> bool {
    if std::env::var("CAMWIRE_MULTICAST_TESTS").as_deref() == Ok("1") {
        return true;
    }
    eprintln!(
        "note: {test} skipped: needs multicast on loopback and the fixtures' addresses routed \
         to lo; run core/tests/run_multicast_discovery.sh"
    );
    false
}

/// A UDP socket on `addr` shared with other sockets on the same port (SO_REUSEADDR).
fn shared_socket(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    s.set_multicast_loop_v4(true)?;
    s.bind(&addr.into())?;
    s.set_nonblocking(true)?;
    UdpSocket::from_std(s.into())
}

/// The endpoint reference marked, so a wrongly accepted variant can be told from the real one.
fn mark_endpoint(text: &str, r: &Reply, mark: &str) -> String {
    text.replace(
        &format!("{}<", r.endpoint),
        &format!("{}{mark}<", r.endpoint),
    )
}

#[tokio::test]
async fn multicast_discovery_finds_every_fixture() {
    if !multicast_enabled("multicast_discovery_finds_every_fixture") {
        return;
    }
    // One "network" of devices: a group member on 239.255.255.250:3702 hears the probe; each
    // device answers from its own address, half from port 3702 and half from another port.
    let group = shared_socket(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 3702))).unwrap();
    let s2: Socket = group.into_std().unwrap().into();
    s2.join_multicast_v4(&Ipv4Addr::new(239, 255, 255, 250), &Ipv4Addr::LOCALHOST)
        .unwrap();
    let group = UdpSocket::from_std(s2.into()).unwrap();
    let mut senders = Vec::new();
    for (i, r) in REPLIES.iter().enumerate() {
        let port = if i % 2 == 0 { 0 } else { 3702 };
        let ip: Ipv4Addr = r.device_ip.parse().unwrap();
        let s = shared_socket(SocketAddr::from((ip, port))).unwrap_or_else(|e| {
            panic!(
                "cannot bind {ip}:{port} ({e}): the fixtures' addresses must be routed to lo \
                 (run core/tests/run_multicast_discovery.sh)"
            )
        });
        senders.push((*r, s, fixture(r.file)));
    }
    let responder = tokio::spawn(async move {
        let mut buf = vec![0u8; 65535];
        let mut probes = 0;
        while let Ok(Ok((n, from))) =
            tokio::time::timeout(Duration::from_secs(4), group.recv_from(&mut buf)).await
        {
            let Some(mid) = probe_message_id(&buf[..n]) else {
                continue;
            };
            probes += 1;
            for (r, s, text) in &senders {
                // First what must be dropped: no RelatesTo, another probe's RelatesTo.
                let bare = mark_endpoint(&strip_relates_to(text), r, "-no-relates-to");
                s.send_to(bare.as_bytes(), from).await.unwrap();
                let stale = mark_endpoint(text, r, "-stale");
                s.send_to(stale.as_bytes(), from).await.unwrap();
                s.send_to(answer(text, &mid).as_bytes(), from)
                    .await
                    .unwrap();
            }
        }
        probes
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let found = discovery::discover(DiscoveryOptions {
        timeout: Duration::from_secs(2),
        ..DiscoveryOptions::default()
    })
    .await
    .unwrap();
    for r in REPLIES {
        let hits: Vec<_> = found
            .iter()
            .filter(|d| d.endpoint_reference.starts_with(r.endpoint))
            .collect();
        assert_eq!(hits.len(), 1, "{}: {hits:?}", r.file);
        let d = hits[0];
        assert_eq!(d.endpoint_reference, r.endpoint, "{}", r.file);
        assert_eq!(d.xaddr.as_deref(), Some(r.xaddr), "{}", r.file);
        assert_eq!(d.source.ip().to_string(), r.device_ip, "{}", r.file);
        assert_device(r, d);
    }
    assert_eq!(found.len(), REPLIES.len(), "{found:?}");
    let probes = responder.await.unwrap();
    assert!(probes >= 1);
    eprintln!(
        "multicast: {} fixtures found from {} probes heard",
        found.len(),
        probes
    );
}

#[tokio::test]
async fn multicast_hello_and_bye() {
    if !multicast_enabled("multicast_hello_and_bye") {
        return;
    }
    const PORT: u16 = 37020;
    let mut l = DiscoveryListener::bind(ListenerOptions {
        interfaces: Vec::new(),
        port: PORT,
    })
    .await
    .unwrap();
    for a in ANNOUNCEMENTS {
        let ip: Ipv4Addr = a.device_ip.parse().unwrap();
        let s = shared_socket(SocketAddr::from((ip, 0))).unwrap();
        s.send_to(
            fixture(a.file).as_bytes(),
            (Ipv4Addr::new(239, 255, 255, 250), PORT),
        )
        .await
        .unwrap();
        let got = tokio::time::timeout(Duration::from_secs(2), l.next())
            .await
            .unwrap_or_else(|_| panic!("{}: nothing heard on the group", a.file))
            .unwrap();
        assert_announcement(a, &got, IpAddr::V4(ip));
    }
}

#[test]
fn fuzz_seeds_reach_the_discovery_parser() {
    // fuzz/corpus/onvif_xml/discovery_<fixture> (written by fuzz/make_corpus.py) answers the
    // probe ID the onvif_xml target passes to parse_probe_matches, so every reply seed gets past
    // the RelatesTo check into the ProbeMatch reader, and every Hello/Bye seed is read.
    const FUZZ_MID: &str = "urn:uuid:00000000-0000-0000-0000-000000000000";
    let source = SocketAddr::from(([192, 0, 2, 1], 3702));
    let dir: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "fuzz",
        "corpus",
        "onvif_xml",
    ]
    .iter()
    .collect();
    let seed = |file: &str| {
        let p = dir.join(format!("discovery_{file}"));
        std::fs::read(&p)
            .unwrap_or_else(|e| panic!("{}: {e} (run fuzz/make_corpus.py)", p.display()))
    };
    for r in REPLIES {
        let devs = discovery::parse_probe_matches(&seed(r.file), FUZZ_MID, source)
            .unwrap_or_else(|| panic!("seed of {} does not reach the reader", r.file));
        assert_eq!(devs[0].endpoint_reference, r.endpoint, "{}", r.file);
    }
    for a in ANNOUNCEMENTS {
        assert!(
            parse_announcement(&seed(a.file), source).is_some(),
            "{}",
            a.file
        );
    }
}

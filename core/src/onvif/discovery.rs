//! WS-Discovery: finding cameras on the local network.
//!
//! - [`discover`]: multicast Probe for `dn:NetworkVideoTransmitter` to 239.255.255.250:3702 from
//!   every up, multicast-capable IPv4 interface (or the ones named), sent several times because
//!   UDP loses packets, replies collected until the timeout, deduplicated by endpoint reference,
//!   and only replies whose `RelatesTo` names our probe are kept (a multicast group carries
//!   other clients' probes and their answers, so a reply without `RelatesTo` is dropped).
//! - [`probe_unicast`]: the same Probe sent to one host, for networks without multicast
//!   (routed VLANs, VPNs, the police network between a province and a shop). Only that host
//!   answers on our socket, so a reply with no `RelatesTo` is accepted; a wrong one is not.
//!
//! Replies are read as firmware sends them, not as the schema says: `ProbeMatch` elements are
//! taken wherever they stand under the SOAP `Body` (inside `ProbeMatches` or directly, as some
//! virtual cameras send them), SOAP 1.1 or 1.2, WS-Discovery 2005/04 or 2009/01, any prefixes or
//! none; a reply may come from any port; `RelatesTo` may echo our `urn:uuid:` message ID as a
//! bare `uuid:`. The XAddr chosen is the one whose host is the replying address (IPv4, IPv6,
//! link-local with a zone), else the first `http` one, else the first.
//! - [`DiscoveryListener`]: passive Hello/Bye, so a VMS sees cameras come and go.
//!
//! One socket per interface, with `IP_MULTICAST_IF` set: without it the kernel sends the
//! probe out of the default-route interface only, and cameras on the other NICs never hear it.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

use super::error::{Error, Result};
use super::xml::{self, Element, XmlLimits};

/// The WS-Discovery multicast group and port.
pub const MULTICAST_ADDR: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(239, 255, 255, 250), 3702);

/// Largest discovery datagram we parse (a UDP datagram cannot be larger than 64 KiB anyway).
const MAX_DATAGRAM: usize = 65_535;

/// Options for [`discover`].
#[derive(Debug, Clone)]
pub struct DiscoveryOptions {
    /// How long to collect replies.
    pub timeout: Duration,
    /// Interfaces to probe from, as IPv4 addresses or names (`eth0`); empty = every up,
    /// multicast-capable IPv4 interface.
    pub interfaces: Vec<String>,
    /// How many times the Probe is sent (same MessageID each time, as SOAP-over-UDP says).
    pub repeats: u32,
    /// Pause between repeats.
    pub repeat_interval: Duration,
    /// The `Types` to probe for.
    pub types: String,
    /// Where probes go (the standard group unless testing).
    pub target: SocketAddrV4,
}

impl Default for DiscoveryOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(3),
            interfaces: Vec::new(),
            repeats: 3,
            repeat_interval: Duration::from_millis(300),
            types: "dn:NetworkVideoTransmitter".into(),
            target: MULTICAST_ADDR,
        }
    }
}

/// A device that answered a Probe (or announced itself with Hello).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredDevice {
    /// Endpoint reference address: the device's stable identity (`urn:uuid:...`).
    pub endpoint_reference: String,
    /// The XAddr to use: the one whose host is the address the reply came from, else the
    /// first `http` one, else the first.
    pub xaddr: Option<String>,
    /// Every XAddr the device listed.
    pub xaddrs: Vec<String>,
    /// Types, e.g. `dn:NetworkVideoTransmitter tds:Device`.
    pub types: Vec<String>,
    /// Raw scopes.
    pub scopes: Vec<String>,
    /// `onvif://www.onvif.org/name/...` (percent-decoded).
    pub name: Option<String>,
    /// `onvif://www.onvif.org/hardware/...` (percent-decoded).
    pub hardware: Option<String>,
    /// `onvif://www.onvif.org/location/...` (percent-decoded, segments joined with `/`).
    pub location: Option<String>,
    /// `onvif://www.onvif.org/Profile/...`, e.g. `Streaming`, `T`.
    pub profiles: Vec<String>,
    /// MetadataVersion.
    pub metadata_version: Option<u32>,
    /// Where the reply came from.
    pub source: SocketAddr,
}

/// A local IPv4 interface as the OS reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalInterface {
    /// Interface name.
    pub name: String,
    /// IPv4 address.
    pub addr: Ipv4Addr,
    /// Up.
    pub up: bool,
    /// Multicast-capable.
    pub multicast: bool,
    /// Loopback.
    pub loopback: bool,
}

/// Lists the machine's IPv4 interfaces.
#[cfg(unix)]
pub fn local_interfaces() -> Result<Vec<LocalInterface>> {
    use std::ffi::CStr;
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs writes a list head we free below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(Error::Connection {
            target: "local interfaces".into(),
            reason: std::io::Error::last_os_error().to_string(),
        });
    }
    let mut out = Vec::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a non-null node of the list getifaddrs returned, alive until freed.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_addr.is_null() || ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_addr is non-null and points to at least a sockaddr header.
        let family = i32::from(unsafe { (*ifa.ifa_addr).sa_family });
        if family != libc::AF_INET {
            continue;
        }
        // SAFETY: family is AF_INET, so the address is a sockaddr_in.
        let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
        let addr = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
        // SAFETY: ifa_name is a non-null NUL-terminated string owned by the list.
        let name = unsafe { CStr::from_ptr(ifa.ifa_name) }
            .to_string_lossy()
            .into_owned();
        let flags = ifa.ifa_flags;
        let has = |f: libc::c_int| flags & (f as libc::c_uint) != 0;
        out.push(LocalInterface {
            name,
            addr,
            up: has(libc::IFF_UP),
            multicast: has(libc::IFF_MULTICAST),
            loopback: has(libc::IFF_LOOPBACK),
        });
    }
    // SAFETY: head came from getifaddrs and is freed exactly once; no reference outlives it.
    unsafe { libc::freeifaddrs(head) };
    Ok(out)
}

/// Lists the machine's IPv4 interfaces (non-Unix: only the unspecified address, letting the
/// OS choose the route).
#[cfg(not(unix))]
pub fn local_interfaces() -> Result<Vec<LocalInterface>> {
    Ok(vec![LocalInterface {
        name: "default".into(),
        addr: Ipv4Addr::UNSPECIFIED,
        up: true,
        multicast: true,
        loopback: false,
    }])
}

/// The interfaces a probe goes out of: the named ones, or every up multicast IPv4 interface.
pub fn probe_interfaces(names: &[String]) -> Result<Vec<Ipv4Addr>> {
    let all = local_interfaces()?;
    if names.is_empty() {
        return Ok(all
            .iter()
            .filter(|i| i.up && i.multicast)
            .map(|i| i.addr)
            .collect());
    }
    let mut out = Vec::new();
    for n in names {
        if let Ok(ip) = n.parse::<Ipv4Addr>() {
            out.push(ip);
            continue;
        }
        let found: Vec<_> = all
            .iter()
            .filter(|i| &i.name == n)
            .map(|i| i.addr)
            .collect();
        if found.is_empty() {
            return Err(Error::InvalidInput(format!(
                "no IPv4 interface named or addressed {n:?}"
            )));
        }
        out.extend(found);
    }
    Ok(out)
}

pub(crate) fn new_uuid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        h.get(0..8).unwrap_or(""),
        h.get(8..12).unwrap_or(""),
        h.get(12..16).unwrap_or(""),
        h.get(16..20).unwrap_or(""),
        h.get(20..32).unwrap_or("")
    )
}

/// The Probe message (SOAP 1.2, WS-Addressing 2004/08, WS-Discovery 2005/04 as ONVIF uses).
pub fn probe_message(message_id: &str, types: &str) -> String {
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl" xmlns:tds="http://www.onvif.org/ver10/device/wsdl">"#,
            r#"<s:Header><a:Action s:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>"#,
            r#"<a:MessageID>{}</a:MessageID>"#,
            r#"<a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo>"#,
            r#"<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To></s:Header>"#,
            r#"<s:Body><d:Probe><d:Types>{}</d:Types></d:Probe></s:Body></s:Envelope>"#
        ),
        xml::escape(message_id),
        xml::escape(types)
    )
}

/// Decodes `%XX` escapes (scopes and URL user info); invalid escapes are kept as they are.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes.get(i).copied().unwrap_or(0);
        if b == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(v) = hex {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn split_ws(s: Option<&str>) -> Vec<String> {
    s.map(|s| s.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The host of an XAddr as an IP address, when it is one: `http://[fe80::1%eth0]:80/x` gives
/// `fe80::1`. Written by hand because `url` rejects IPv6 zone identifiers, which link-local
/// XAddrs carry.
fn xaddr_ip(xaddr: &str) -> Option<IpAddr> {
    let rest = xaddr.split_once("://").map_or(xaddr, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        let inner = v6.split(']').next().unwrap_or("");
        // A zone, `%eth0` or URL-encoded `%25eth0`, does not take part in the comparison.
        inner.split('%').next().unwrap_or("")
    } else {
        hostport.split(':').next().unwrap_or("")
    };
    host.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

fn choose_xaddr(xaddrs: &[String], source: &SocketAddr) -> Option<String> {
    let src = source.ip().to_canonical();
    xaddrs
        .iter()
        .find(|x| xaddr_ip(x) == Some(src))
        .or_else(|| {
            xaddrs.iter().find(|x| {
                x.get(..7)
                    .is_some_and(|p| p.eq_ignore_ascii_case("http://"))
            })
        })
        .or_else(|| xaddrs.first())
        .cloned()
}

/// Reads one ProbeMatch or Hello element.
fn device_from(el: &Element, source: SocketAddr) -> DiscoveredDevice {
    let scopes = split_ws(el.text_at(&["Scopes"]));
    let xaddrs = split_ws(el.text_at(&["XAddrs"]));
    let mut dev = DiscoveredDevice {
        endpoint_reference: el
            .text_at(&["EndpointReference", "Address"])
            .unwrap_or("")
            .to_string(),
        xaddr: choose_xaddr(&xaddrs, &source),
        xaddrs,
        types: split_ws(el.text_at(&["Types"])),
        scopes: Vec::new(),
        name: None,
        hardware: None,
        location: None,
        profiles: Vec::new(),
        metadata_version: el
            .text_at(&["MetadataVersion"])
            .and_then(|v| v.parse().ok()),
        source,
    };
    for s in &scopes {
        let Some(rest) = s
            .strip_prefix("onvif://www.onvif.org/")
            .or_else(|| s.strip_prefix("ONVIF://www.onvif.org/"))
        else {
            continue;
        };
        let (kind, value) = rest.split_once('/').unwrap_or((rest, ""));
        let value = percent_decode(value);
        if value.is_empty() {
            // Axis sends `onvif://www.onvif.org/location/` when no location is set.
            continue;
        }
        match kind.to_ascii_lowercase().as_str() {
            "name" if dev.name.is_none() => dev.name = Some(value),
            "hardware" if dev.hardware.is_none() => dev.hardware = Some(value),
            "location" if dev.location.is_none() => dev.location = Some(value),
            "profile" => dev.profiles.push(value),
            _ => {}
        }
    }
    dev.scopes = scopes;
    dev
}

fn discovery_limits() -> XmlLimits {
    XmlLimits {
        max_bytes: MAX_DATAGRAM,
        max_depth: 32,
        max_elements: 2_000,
    }
}

/// How a reply's `RelatesTo` is checked against the probe's MessageID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelatesTo {
    /// It must be present and name our probe (multicast: the group carries other clients'
    /// probes and their answers).
    Required,
    /// A reply without one is accepted; one naming another probe is dropped (unicast: only the
    /// probed host answers on our socket, and cheap firmwares omit the header).
    IfPresent,
}

/// The message ID as compared: trimmed, lowercase, without `urn:` (some firmwares echo our
/// `urn:uuid:...` as `uuid:...`).
fn message_id_key(id: &str) -> String {
    let t = id.trim();
    let t = match t.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("urn:") => t.get(4..).unwrap_or(""),
        _ => t,
    };
    t.to_ascii_lowercase()
}

/// A discovery datagram as firmware sends it: a BOM is handled by the XML reader; trailing NUL
/// bytes (C firmwares that send `sizeof` a buffer) and whitespace are dropped here.
fn parse_datagram(data: &[u8]) -> Option<Element> {
    let end = data
        .iter()
        .rposition(|&b| b != 0 && !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    let root = xml::parse(data.get(..end).unwrap_or(&[]), &discovery_limits()).ok()?;
    (root.name == "Envelope").then_some(root)
}

/// Elements named `name` under `el`, at any depth, not looking inside a match (a ProbeMatch
/// does not hold other ProbeMatches).
fn collect_named<'a>(el: &'a Element, name: &str, out: &mut Vec<&'a Element>) {
    for c in &el.children {
        if c.name == name {
            out.push(c);
        } else {
            collect_named(c, name, out);
        }
    }
}

/// Parses a ProbeMatches datagram; `None` when it is not a reply to `message_id`.
///
/// A reply whose `RelatesTo` names another probe is dropped; one with no `RelatesTo` at all is
/// kept (some cheap firmwares omit it) but logged. This is the unicast rule
/// ([`RelatesTo::IfPresent`]); [`parse_probe_reply`] takes the rule as a parameter.
pub fn parse_probe_matches(
    data: &[u8],
    message_id: &str,
    source: SocketAddr,
) -> Option<Vec<DiscoveredDevice>> {
    parse_probe_reply(data, message_id, source, RelatesTo::IfPresent)
}

/// Parses a reply to the probe `message_id`: every `ProbeMatch` under the SOAP `Body`,
/// wrapped in `ProbeMatches` or not. `None` when the datagram is not an envelope holding a
/// `ProbeMatch`, or when its `RelatesTo` fails `relates_to`.
pub fn parse_probe_reply(
    data: &[u8],
    message_id: &str,
    source: SocketAddr,
    relates_to: RelatesTo,
) -> Option<Vec<DiscoveredDevice>> {
    let root = parse_datagram(data)?;
    let body = root.child("Body")?;
    let mut matches = Vec::new();
    collect_named(body, "ProbeMatch", &mut matches);
    if matches.is_empty() {
        return None;
    }
    match (root.text_at(&["Header", "RelatesTo"]), relates_to) {
        (Some(r), _) if message_id_key(r) == message_id_key(message_id) => {}
        (Some(_), _) => return None,
        (None, RelatesTo::Required) => {
            log::debug!("WS-Discovery: multicast reply from {source} has no RelatesTo; dropped");
            return None;
        }
        (None, RelatesTo::IfPresent) => {
            log::debug!("WS-Discovery: reply from {source} has no RelatesTo; accepting it");
        }
    }
    Some(
        matches
            .into_iter()
            .map(|m| device_from(m, source))
            .collect(),
    )
}

/// Deduplicates replies by endpoint reference (else by first XAddr).
#[derive(Debug, Default)]
struct Collector {
    seen: HashSet<String>,
    devices: Vec<DiscoveredDevice>,
}

impl Collector {
    fn add(&mut self, devs: Vec<DiscoveredDevice>) {
        for d in devs {
            let key = if d.endpoint_reference.is_empty() {
                d.xaddrs
                    .first()
                    .cloned()
                    .unwrap_or_else(|| d.source.to_string())
            } else {
                d.endpoint_reference.clone()
            };
            if self.seen.insert(key) {
                self.devices.push(d);
            }
        }
    }
}

fn socket_error(what: &str, e: std::io::Error) -> Error {
    Error::Connection {
        target: what.to_string(),
        reason: e.to_string(),
    }
}

fn probe_socket(iface: Ipv4Addr) -> std::io::Result<UdpSocket> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    if !iface.is_unspecified() {
        s.set_multicast_if_v4(&iface)?;
    }
    s.set_multicast_loop_v4(true)?;
    s.set_multicast_ttl_v4(1)?;
    s.bind(&SocketAddr::from((iface, 0)).into())?;
    s.set_nonblocking(true)?;
    UdpSocket::from_std(s.into())
}

/// One probe round: where the Probe goes, how often, how long replies are collected and how
/// their `RelatesTo` is checked.
struct ProbePlan {
    target: SocketAddr,
    message: String,
    message_id: String,
    repeats: u32,
    interval: Duration,
    timeout: Duration,
    relates_to: RelatesTo,
}

async fn collect(sockets: Vec<Arc<UdpSocket>>, plan: ProbePlan) -> Vec<DiscoveredDevice> {
    let ProbePlan {
        target,
        message,
        message_id,
        repeats,
        interval,
        timeout,
        relates_to,
    } = plan;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(Vec<u8>, SocketAddr)>(64);
    let mut tasks = tokio::task::JoinSet::new();
    for s in &sockets {
        let s = s.clone();
        let tx = tx.clone();
        tasks.spawn(async move {
            let mut buf = vec![0u8; MAX_DATAGRAM];
            loop {
                match s.recv_from(&mut buf).await {
                    Ok((n, src)) => {
                        let data = buf.get(..n).unwrap_or(&[]).to_vec();
                        if tx.send((data, src)).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        log::debug!("WS-Discovery receive error: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        });
    }
    drop(tx);
    let sender_sockets = sockets.clone();
    tasks.spawn(async move {
        for i in 0..repeats.max(1) {
            if i > 0 {
                tokio::time::sleep(interval).await;
            }
            for s in &sender_sockets {
                if let Err(e) = s.send_to(message.as_bytes(), target).await {
                    log::warn!(
                        "WS-Discovery: probe from {:?} to {target} failed: {e}",
                        s.local_addr().ok()
                    );
                }
            }
        }
    });
    let mut col = Collector::default();
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => break,
            m = rx.recv() => match m {
                Some((data, src)) => {
                    if let Some(devs) = parse_probe_reply(&data, &message_id, src, relates_to) {
                        col.add(devs);
                    }
                }
                None => break,
            },
        }
    }
    tasks.abort_all();
    col.devices
}

/// Multicast discovery on every (or the named) IPv4 interface; see the module docs.
pub async fn discover(opts: DiscoveryOptions) -> Result<Vec<DiscoveredDevice>> {
    let ifaces = probe_interfaces(&opts.interfaces)?;
    let mut sockets = Vec::new();
    for ip in &ifaces {
        match probe_socket(*ip) {
            Ok(s) => sockets.push(Arc::new(s)),
            Err(e) => log::warn!("WS-Discovery: cannot probe from {ip}: {e}"),
        }
    }
    if sockets.is_empty() {
        return Err(Error::Connection {
            target: "WS-Discovery".into(),
            reason: if ifaces.is_empty() {
                "no up, multicast-capable IPv4 interface".into()
            } else {
                "could not open a probe socket on any interface".into()
            },
        });
    }
    let message_id = format!("urn:uuid:{}", new_uuid());
    let message = probe_message(&message_id, &opts.types);
    Ok(collect(
        sockets,
        ProbePlan {
            target: SocketAddr::V4(opts.target),
            message,
            message_id,
            repeats: opts.repeats,
            interval: opts.repeat_interval,
            timeout: opts.timeout,
            relates_to: RelatesTo::Required,
        },
    )
    .await)
}

/// Unicast Probe to one host (`host`, `host:port`, `ip`, `[v6]:port`; port 3702 by default),
/// replies collected for `timeout`.
pub async fn probe_unicast(target: &str, timeout: Duration) -> Result<Vec<DiscoveredDevice>> {
    let t = target.trim();
    let with_port = if t.parse::<SocketAddr>().is_ok() {
        t.to_string()
    } else if let Ok(ip) = t.parse::<IpAddr>() {
        SocketAddr::new(ip, 3702).to_string()
    } else if t
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        t.to_string()
    } else {
        format!("{t}:3702")
    };
    let addr = tokio::net::lookup_host(with_port.as_str())
        .await
        .map_err(|e| Error::InvalidInput(format!("cannot resolve {t:?}: {e}")))?
        .next()
        .ok_or_else(|| Error::InvalidInput(format!("cannot resolve {t:?}")))?;
    let bind: SocketAddr = if addr.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = UdpSocket::bind(bind)
        .await
        .map_err(|e| socket_error("WS-Discovery unicast socket", e))?;
    let message_id = format!("urn:uuid:{}", new_uuid());
    let message = probe_message(&message_id, "dn:NetworkVideoTransmitter");
    Ok(collect(
        vec![Arc::new(sock)],
        ProbePlan {
            target: addr,
            message,
            message_id,
            repeats: 2,
            interval: Duration::from_millis(250).min(timeout / 4),
            timeout,
            relates_to: RelatesTo::IfPresent,
        },
    )
    .await)
}

/// A Hello or Bye heard by [`DiscoveryListener`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Announcement {
    /// A device joined the network (or changed its metadata).
    Hello(DiscoveredDevice),
    /// A device is leaving.
    Bye {
        /// Its endpoint reference.
        endpoint_reference: String,
        /// Where the Bye came from.
        source: SocketAddr,
    },
}

/// Options for [`DiscoveryListener::bind`].
#[derive(Debug, Clone)]
pub struct ListenerOptions {
    /// Interfaces to join the group on (addresses or names); empty = every up multicast one.
    pub interfaces: Vec<String>,
    /// UDP port (3702 unless testing).
    pub port: u16,
}

impl Default for ListenerOptions {
    fn default() -> Self {
        Self {
            interfaces: Vec::new(),
            port: MULTICAST_ADDR.port(),
        }
    }
}

/// Listens for Hello/Bye on the WS-Discovery group. The port is shared (`SO_REUSEADDR`) with
/// other listeners on the machine, such as a local device's own responder.
#[derive(Debug)]
pub struct DiscoveryListener {
    socket: UdpSocket,
    buf: Vec<u8>,
}

impl DiscoveryListener {
    /// Binds the port and joins the group on the chosen interfaces.
    pub async fn bind(opts: ListenerOptions) -> Result<Self> {
        let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))
            .map_err(|e| socket_error("WS-Discovery listener", e))?;
        s.set_reuse_address(true)
            .map_err(|e| socket_error("WS-Discovery listener", e))?;
        s.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, opts.port)).into())
            .map_err(|e| socket_error("WS-Discovery listener", e))?;
        let group = *MULTICAST_ADDR.ip();
        let mut joined = 0;
        for ip in probe_interfaces(&opts.interfaces)? {
            match s.join_multicast_v4(&group, &ip) {
                Ok(()) => joined += 1,
                Err(e) => log::warn!("WS-Discovery: cannot join {group} on {ip}: {e}"),
            }
        }
        if joined == 0 {
            log::warn!(
                "WS-Discovery listener joined no multicast group; only unicast Hello/Bye will arrive"
            );
        }
        s.set_nonblocking(true)
            .map_err(|e| socket_error("WS-Discovery listener", e))?;
        let socket =
            UdpSocket::from_std(s.into()).map_err(|e| socket_error("WS-Discovery listener", e))?;
        Ok(Self {
            socket,
            buf: vec![0u8; MAX_DATAGRAM],
        })
    }

    /// The local address (useful when bound to port 0).
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.socket
            .local_addr()
            .map_err(|e| socket_error("WS-Discovery listener", e))
    }

    /// Waits for the next Hello or Bye; everything else on the port (Probes, garbage) is skipped.
    pub async fn next(&mut self) -> Result<Announcement> {
        loop {
            let (n, src) = self
                .socket
                .recv_from(&mut self.buf)
                .await
                .map_err(|e| socket_error("WS-Discovery listener", e))?;
            if let Some(a) = parse_announcement(self.buf.get(..n).unwrap_or(&[]), src) {
                return Ok(a);
            }
        }
    }
}

/// Parses a Hello or Bye datagram (the element anywhere under the SOAP `Body`, any prefixes).
pub fn parse_announcement(data: &[u8], source: SocketAddr) -> Option<Announcement> {
    let root = parse_datagram(data)?;
    let body = root.child("Body")?;
    let mut found = Vec::new();
    collect_named(body, "Hello", &mut found);
    if let Some(h) = found.first() {
        return Some(Announcement::Hello(device_from(h, source)));
    }
    collect_named(body, "Bye", &mut found);
    if let Some(b) = found.first() {
        return Some(Announcement::Bye {
            endpoint_reference: b
                .text_at(&["EndpointReference", "Address"])
                .unwrap_or("")
                .to_string(),
            source,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const MID: &str = "urn:uuid:11111111-2222-4333-8444-555555555555";

    fn src() -> SocketAddr {
        "192.168.1.64:3702".parse().unwrap()
    }

    fn hik_match(relates: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:wsadis="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"><env:Header><wsadis:MessageID>urn:uuid:aaaa</wsadis:MessageID><wsadis:RelatesTo>{relates}</wsadis:RelatesTo><wsadis:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsadis:Action></env:Header><env:Body><d:ProbeMatches><d:ProbeMatch><wsadis:EndpointReference><wsadis:Address>urn:uuid:4419e8a0-0000-1000-8000-bcbac2aa1111</wsadis:Address></wsadis:EndpointReference><d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types><d:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/Profile/Streaming onvif://www.onvif.org/Profile/T onvif://www.onvif.org/name/HIK%20VISION onvif://www.onvif.org/hardware/DS-2CD2143G0-I onvif://www.onvif.org/location/city/hanoi</d:Scopes><d:XAddrs>http://169.254.10.10/onvif/device_service http://192.168.1.64/onvif/device_service http://[fe80::1]/onvif/device_service</d:XAddrs><d:MetadataVersion>10</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></env:Body></env:Envelope>"#
        )
    }

    #[test]
    fn probe_match_parsed_and_xaddr_chosen_by_source() {
        let devs = parse_probe_matches(hik_match(MID).as_bytes(), MID, src()).unwrap();
        assert_eq!(devs.len(), 1);
        let d = &devs[0];
        assert_eq!(
            d.endpoint_reference,
            "urn:uuid:4419e8a0-0000-1000-8000-bcbac2aa1111"
        );
        assert_eq!(d.xaddrs.len(), 3);
        assert_eq!(
            d.xaddr.as_deref(),
            Some("http://192.168.1.64/onvif/device_service")
        );
        assert_eq!(d.name.as_deref(), Some("HIK VISION"));
        assert_eq!(d.hardware.as_deref(), Some("DS-2CD2143G0-I"));
        assert_eq!(d.location.as_deref(), Some("city/hanoi"));
        assert_eq!(d.profiles, vec!["Streaming".to_string(), "T".to_string()]);
        assert_eq!(d.types, vec!["dn:NetworkVideoTransmitter", "tds:Device"]);
        assert_eq!(d.metadata_version, Some(10));
    }

    #[test]
    fn relates_to_checked() {
        assert!(parse_probe_matches(hik_match("urn:uuid:other").as_bytes(), MID, src()).is_none());
        let no_relates =
            hik_match(MID).replace(&format!("<wsadis:RelatesTo>{MID}</wsadis:RelatesTo>"), "");
        assert_eq!(
            parse_probe_matches(no_relates.as_bytes(), MID, src())
                .unwrap()
                .len(),
            1
        );
        assert!(parse_probe_matches(b"<garbage", MID, src()).is_none());
        assert!(parse_probe_matches(probe_message(MID, "x").as_bytes(), MID, src()).is_none());
    }

    #[test]
    fn probe_match_without_wrapper_soap11_and_bare_uuid() {
        // ProbeMatch straight under Body, SOAP 1.1, default namespaces, `uuid:` echo of our
        // `urn:uuid:` MessageID, trailing NULs after the document.
        let reply = format!(
            concat!(
                r#"<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/">"#,
                r#"<Header><RelatesTo xmlns="http://www.w3.org/2005/08/addressing">{}</RelatesTo></Header>"#,
                r#"<Body><ProbeMatch xmlns="http://docs.oasis-open.org/ws-dd/ns/discovery/2009/01">"#,
                r#"<EndpointReference><Address>urn:uuid:virt</Address></EndpointReference>"#,
                r#"<XAddrs>http://192.168.1.64:8080/onvif/device_service</XAddrs></ProbeMatch></Body></Envelope>"#,
                "\0\0\n"
            ),
            MID.trim_start_matches("urn:").to_ascii_uppercase()
        );
        for rule in [RelatesTo::Required, RelatesTo::IfPresent] {
            let devs = parse_probe_reply(reply.as_bytes(), MID, src(), rule).unwrap();
            assert_eq!(devs.len(), 1);
            assert_eq!(devs[0].endpoint_reference, "urn:uuid:virt");
            assert_eq!(
                devs[0].xaddr.as_deref(),
                Some("http://192.168.1.64:8080/onvif/device_service")
            );
        }
    }

    #[test]
    fn missing_relates_to_only_accepted_when_unicast() {
        let no_relates =
            hik_match(MID).replace(&format!("<wsadis:RelatesTo>{MID}</wsadis:RelatesTo>"), "");
        assert!(
            parse_probe_reply(no_relates.as_bytes(), MID, src(), RelatesTo::Required).is_none()
        );
        assert_eq!(
            parse_probe_reply(no_relates.as_bytes(), MID, src(), RelatesTo::IfPresent)
                .unwrap()
                .len(),
            1
        );
        let other = hik_match("urn:uuid:11111111-2222-4333-8444-000000000000");
        for rule in [RelatesTo::Required, RelatesTo::IfPresent] {
            assert!(parse_probe_reply(other.as_bytes(), MID, src(), rule).is_none());
        }
    }

    #[test]
    fn xaddr_hosts_with_zones_ports_and_mapped_sources() {
        assert_eq!(
            xaddr_ip("http://[fe80::1%25eth0]:8080/onvif"),
            Some("fe80::1".parse().unwrap())
        );
        assert_eq!(
            xaddr_ip("http://[FE80::0001%eth0]/onvif"),
            Some("fe80::1".parse().unwrap())
        );
        assert_eq!(
            xaddr_ip("HTTP://user@10.1.2.3:80/x"),
            Some("10.1.2.3".parse().unwrap())
        );
        assert_eq!(xaddr_ip("http://cam.local/x"), None);
        let x = vec![
            "http://169.254.3.3/onvif/device_service".to_string(),
            "http://[fe80::9a8b:cdff:fe12:3456%25eth0]/onvif/device_service".to_string(),
            "http://10.0.0.7:80/onvif/device_service".to_string(),
        ];
        let ll: SocketAddr = "[fe80::9a8b:cdff:fe12:3456]:3702".parse().unwrap();
        assert_eq!(choose_xaddr(&x, &ll).as_deref(), Some(x[1].as_str()));
        let mapped: SocketAddr = "[::ffff:10.0.0.7]:50000".parse().unwrap();
        assert_eq!(choose_xaddr(&x, &mapped).as_deref(), Some(x[2].as_str()));
    }

    #[test]
    fn dedup_by_endpoint_reference() {
        let mut c = Collector::default();
        c.add(parse_probe_matches(hik_match(MID).as_bytes(), MID, src()).unwrap());
        c.add(parse_probe_matches(hik_match(MID).as_bytes(), MID, src()).unwrap());
        assert_eq!(c.devices.len(), 1);
    }

    #[test]
    fn xaddr_fallbacks() {
        let x = vec![
            "https://10.0.0.9/x".to_string(),
            "http://10.0.0.8/x".to_string(),
        ];
        assert_eq!(
            choose_xaddr(&x, &src()).as_deref(),
            Some("http://10.0.0.8/x")
        );
        assert_eq!(choose_xaddr(&[], &src()), None);
        let v6: SocketAddr = "[fe80::1]:3702".parse().unwrap();
        assert_eq!(
            choose_xaddr(
                &["http://1.2.3.4/".into(), "http://[fe80::1]/d".into()],
                &v6
            )
            .as_deref(),
            Some("http://[fe80::1]/d")
        );
    }

    #[test]
    fn hello_and_bye() {
        let hello = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"><s:Header><a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Hello</a:Action></s:Header><s:Body><d:Hello><a:EndpointReference><a:Address>urn:uuid:cam-1</a:Address></a:EndpointReference><d:Types>dn:NetworkVideoTransmitter</d:Types><d:XAddrs>http://192.168.1.64/onvif/device_service</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion></d:Hello></s:Body></s:Envelope>"#;
        match parse_announcement(hello.as_bytes(), src()).unwrap() {
            Announcement::Hello(d) => assert_eq!(d.endpoint_reference, "urn:uuid:cam-1"),
            other => panic!("{other:?}"),
        }
        let bye = hello.replace("d:Hello", "d:Bye");
        assert!(matches!(
            parse_announcement(bye.as_bytes(), src()),
            Some(Announcement::Bye { .. })
        ));
        assert!(parse_announcement(probe_message(MID, "x").as_bytes(), src()).is_none());
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%2Fc%zz%"), "a b/c%zz%");
        assert_eq!(percent_decode("%E1%BA%A1"), "ạ");
    }

    #[test]
    fn probe_is_well_formed() {
        let m = probe_message(MID, "dn:NetworkVideoTransmitter");
        let root = xml::parse(m.as_bytes(), &XmlLimits::default()).unwrap();
        assert_eq!(root.text_at(&["Header", "MessageID"]), Some(MID));
        assert_eq!(
            root.text_at(&["Body", "Probe", "Types"]),
            Some("dn:NetworkVideoTransmitter")
        );
        let u = new_uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(u.as_bytes()[14], b'4');
    }

    #[tokio::test]
    async fn unicast_probe_against_local_responder() {
        let responder = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = responder.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 65535];
            // Answer every probe (the client sends it twice); reply once stale, once right.
            for _ in 0..2 {
                let (n, from) = responder.recv_from(&mut buf).await.unwrap();
                let root = xml::parse(&buf[..n], &XmlLimits::default()).unwrap();
                let mid = root.text_at(&["Header", "MessageID"]).unwrap().to_string();
                responder
                    .send_to(hik_match("urn:uuid:stale").as_bytes(), from)
                    .await
                    .unwrap();
                responder
                    .send_to(hik_match(&mid).as_bytes(), from)
                    .await
                    .unwrap();
            }
        });
        let devs = probe_unicast(&addr.to_string(), Duration::from_millis(800))
            .await
            .unwrap();
        assert_eq!(devs.len(), 1, "{devs:?}");
        assert_eq!(devs[0].source, addr);
        // Source 127.0.0.1 matches no XAddr: first http one is chosen.
        assert_eq!(
            devs[0].xaddr.as_deref(),
            Some("http://169.254.10.10/onvif/device_service")
        );
        task.await.unwrap();
    }

    #[tokio::test]
    async fn listener_hears_unicast_hello() {
        let mut l = DiscoveryListener::bind(ListenerOptions {
            interfaces: vec!["127.0.0.1".into()],
            port: 0,
        })
        .await
        .unwrap();
        let port = l.local_addr().unwrap().port();
        let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let hello = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><d:Hello xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"><a:EndpointReference xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"><a:Address>urn:uuid:x</a:Address></a:EndpointReference><d:XAddrs>http://127.0.0.1/onvif/device_service</d:XAddrs></d:Hello></s:Body></s:Envelope>"#;
        s.send_to(b"garbage", ("127.0.0.1", port)).await.unwrap();
        s.send_to(hello.as_bytes(), ("127.0.0.1", port))
            .await
            .unwrap();
        let a = tokio::time::timeout(Duration::from_secs(2), l.next())
            .await
            .unwrap()
            .unwrap();
        match a {
            Announcement::Hello(d) => {
                assert_eq!(d.endpoint_reference, "urn:uuid:x");
                assert_eq!(
                    d.xaddr.as_deref(),
                    Some("http://127.0.0.1/onvif/device_service")
                );
            }
            other => panic!("{other:?}"),
        }
    }
}

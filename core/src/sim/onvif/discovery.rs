//! The sim's WS-Discovery side: answers Probe for `NetworkVideoTransmitter` with a
//! ProbeMatch, and announces itself with Hello on start and Bye on shutdown.
//!
//! Two sockets: a unicast one on a port of the caller's choosing (what tests and
//! `camwire discover --host` use, because loopback normally cannot do multicast), and, when
//! possible, one on 3702 joined to 239.255.255.250 like a real camera. The multicast one is
//! best effort: another responder may hold the port, or the host may have no multicast route.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

use crate::onvif::discovery::new_uuid;
use crate::onvif::xml::{self, XmlLimits, escape};

/// The types the sim is (prefixes declared on every message it sends).
const TYPES: &str = "dn:NetworkVideoTransmitter tds:Device";
/// Local names of the types a Probe may ask for and still match.
const TYPE_NAMES: &[&str] = &["NetworkVideoTransmitter", "Device"];

const ENVELOPE_OPEN: &str = concat!(
    r#"<?xml version="1.0" encoding="UTF-8"?><s:Envelope "#,
    r#"xmlns:s="http://www.w3.org/2003/05/soap-envelope" "#,
    r#"xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" "#,
    r#"xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" "#,
    r#"xmlns:dn="http://www.onvif.org/ver10/network/wsdl" "#,
    r#"xmlns:tds="http://www.onvif.org/ver10/device/wsdl">"#
);

/// What the responder says about the device.
pub(crate) struct Identity {
    /// `urn:uuid:...`, stable for the sim's lifetime.
    pub(crate) endpoint_reference: String,
    /// The device-service addresses offered (one per address the HTTP side is reachable at).
    pub(crate) xaddrs: Vec<String>,
    pub(crate) scopes: Vec<String>,
    /// Whether only loopback peers are answered (the HTTP side listens on loopback only, so
    /// advertising it to the LAN would only mislead other machines' VMS).
    pub(crate) loopback_only: bool,
    /// WS-Discovery AppSequence: instance id and message counter.
    instance_id: u64,
    message_number: AtomicU64,
}

impl Identity {
    pub(crate) fn new(
        endpoint_reference: String,
        xaddrs: Vec<String>,
        scopes: Vec<String>,
        loopback_only: bool,
    ) -> Self {
        Identity {
            endpoint_reference,
            xaddrs,
            scopes,
            loopback_only,
            instance_id: jiff::Timestamp::now().as_second().unsigned_abs(),
            message_number: AtomicU64::new(1),
        }
    }

    fn app_sequence(&self) -> String {
        format!(
            r#"<d:AppSequence InstanceId="{}" MessageNumber="{}"/>"#,
            self.instance_id,
            self.message_number.fetch_add(1, Ordering::Relaxed)
        )
    }

    fn description(&self) -> String {
        format!(
            "<a:EndpointReference><a:Address>{}</a:Address></a:EndpointReference><d:Types>{TYPES}</d:Types><d:Scopes>{}</d:Scopes><d:XAddrs>{}</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion>",
            escape(&self.endpoint_reference),
            escape(&self.scopes.join(" ")),
            escape(&self.xaddrs.join(" "))
        )
    }

    /// The ProbeMatches answer to the probe whose MessageID is `relates_to`.
    pub(crate) fn probe_matches(&self, relates_to: &str) -> String {
        format!(
            "{ENVELOPE_OPEN}<s:Header><a:MessageID>urn:uuid:{}</a:MessageID><a:RelatesTo>{}</a:RelatesTo><a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To><a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</a:Action>{}</s:Header><s:Body><d:ProbeMatches><d:ProbeMatch>{}</d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>",
            new_uuid(),
            escape(relates_to),
            self.app_sequence(),
            self.description()
        )
    }

    /// Hello (`bye == false`) or Bye.
    pub(crate) fn announcement(&self, bye: bool) -> String {
        let (action, body) = if bye {
            (
                "Bye",
                format!(
                    "<d:Bye><a:EndpointReference><a:Address>{}</a:Address></a:EndpointReference></d:Bye>",
                    escape(&self.endpoint_reference)
                ),
            )
        } else {
            (
                "Hello",
                format!("<d:Hello>{}</d:Hello>", self.description()),
            )
        };
        format!(
            "{ENVELOPE_OPEN}<s:Header><a:MessageID>urn:uuid:{}</a:MessageID><a:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To><a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/{action}</a:Action>{}</s:Header><s:Body>{body}</s:Body></s:Envelope>",
            new_uuid(),
            self.app_sequence()
        )
    }

    /// The answer to one datagram, if it is a Probe we match.
    pub(crate) fn answer(&self, datagram: &[u8], from: SocketAddr) -> Option<String> {
        if self.loopback_only && !from.ip().is_loopback() {
            return None;
        }
        let limits = XmlLimits {
            max_bytes: 65_535,
            max_depth: 32,
            max_elements: 500,
        };
        let root = xml::parse(datagram, &limits).ok()?;
        if root.name != "Envelope" {
            return None;
        }
        let probe = root.path(&["Body", "Probe"])?;
        let message_id = root.text_at(&["Header", "MessageID"])?.trim();
        if message_id.is_empty() {
            return None;
        }
        // Every type asked for must be one of ours (compared by local name: the probe's
        // prefixes are its own).
        let types_ok = probe
            .text_at(&["Types"])
            .unwrap_or("")
            .split_whitespace()
            .all(|t| TYPE_NAMES.contains(&t.rsplit(':').next().unwrap_or(t)));
        // Every scope asked for must prefix one of ours, segment-wise (RFC 3986 matching).
        let scopes_ok = probe
            .text_at(&["Scopes"])
            .unwrap_or("")
            .split_whitespace()
            .all(|want| {
                let want = want.trim_end_matches('/');
                self.scopes.iter().any(|have| {
                    have.eq_ignore_ascii_case(want)
                        || (have
                            .get(..want.len())
                            .is_some_and(|p| p.eq_ignore_ascii_case(want))
                            && have.as_bytes().get(want.len()) == Some(&b'/'))
                })
            });
        (types_ok && scopes_ok).then(|| self.probe_matches(message_id))
    }
}

/// Answers probes arriving on `socket` until the task is aborted.
pub(crate) async fn respond(socket: Arc<UdpSocket>, identity: Arc<Identity>) {
    let mut buf = vec![0u8; 65_535];
    loop {
        let (n, from) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) => {
                // ICMP errors from earlier sends surface here on some systems; keep going.
                log::debug!("sim WS-Discovery: receive error: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                continue;
            }
        };
        let Some(reply) = identity.answer(buf.get(..n).unwrap_or(&[]), from) else {
            continue;
        };
        if let Err(e) = socket.send_to(reply.as_bytes(), from).await {
            log::debug!("sim WS-Discovery: cannot answer {from}: {e}");
        }
    }
}

/// Binds 0.0.0.0:`group.port()` shared with other responders and joins the group on
/// `interfaces`. `None` (logged) when the port cannot be had or no join succeeded.
pub(crate) fn multicast_socket(group: SocketAddrV4, interfaces: &[Ipv4Addr]) -> Option<UdpSocket> {
    let attempt = || -> std::io::Result<Option<UdpSocket>> {
        let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
        s.set_reuse_address(true)?;
        s.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, group.port())).into())?;
        let mut joined = None;
        for iface in interfaces {
            match s.join_multicast_v4(group.ip(), iface) {
                Ok(()) => {
                    joined.get_or_insert(*iface);
                }
                Err(e) => log::debug!("sim WS-Discovery: cannot join {group} on {iface}: {e}"),
            }
        }
        let Some(first) = joined else {
            return Ok(None);
        };
        // Hello/Bye leave by the first joined interface (loopback for a loopback sim).
        s.set_multicast_if_v4(&first)?;
        s.set_multicast_loop_v4(true)?;
        s.set_multicast_ttl_v4(1)?;
        s.set_nonblocking(true)?;
        UdpSocket::from_std(s.into()).map(Some)
    };
    match attempt() {
        Ok(Some(s)) => Some(s),
        Ok(None) => {
            log::info!("sim WS-Discovery: no multicast group joined; unicast probes only");
            None
        }
        Err(e) => {
            log::info!("sim WS-Discovery: cannot listen on {group} ({e}); unicast probes only");
            None
        }
    }
}

/// Which interfaces a sim bound to `ip` joins the group on.
pub(crate) fn join_interfaces(ip: IpAddr) -> Vec<Ipv4Addr> {
    match ip {
        IpAddr::V4(v4) if !v4.is_unspecified() => vec![v4],
        IpAddr::V4(_) => crate::onvif::discovery::probe_interfaces(&[]).unwrap_or_default(),
        // WS-Discovery over IPv6 (ff02::c) is not simulated.
        IpAddr::V6(_) => Vec::new(),
    }
}

/// Sends `message` to every target, logging (not failing on) errors.
pub(crate) async fn announce(socket: &UdpSocket, message: &str, targets: &[SocketAddr]) {
    for t in targets {
        if let Err(e) = socket.send_to(message.as_bytes(), t).await {
            log::debug!("sim WS-Discovery: cannot announce to {t}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onvif::discovery::{
        Announcement, parse_announcement, parse_probe_matches, probe_message,
    };

    fn identity() -> Identity {
        Identity::new(
            "urn:uuid:abc".into(),
            vec!["http://127.0.0.1:8080/onvif/device_service".into()],
            vec![
                "onvif://www.onvif.org/Profile/Streaming".into(),
                "onvif://www.onvif.org/name/camwire-sim".into(),
            ],
            true,
        )
    }

    #[test]
    fn answers_matching_probes_only() {
        let id = identity();
        let local: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let mid = "urn:uuid:probe-1";
        let reply = id
            .answer(
                probe_message(mid, "dn:NetworkVideoTransmitter").as_bytes(),
                local,
            )
            .unwrap();
        let devs = parse_probe_matches(reply.as_bytes(), mid, local).unwrap();
        assert_eq!(devs.len(), 1);
        assert_eq!(devs[0].endpoint_reference, "urn:uuid:abc");
        assert_eq!(
            devs[0].xaddr.as_deref(),
            Some("http://127.0.0.1:8080/onvif/device_service")
        );
        assert_eq!(devs[0].name.as_deref(), Some("camwire-sim"));
        // Other types, other scopes, remote peers, garbage: no answer.
        assert!(
            id.answer(probe_message(mid, "tds:Printer").as_bytes(), local)
                .is_none()
        );
        let scoped = probe_message(mid, "").replace(
            "</d:Types>",
            "</d:Types><d:Scopes>onvif://www.onvif.org/name/other</d:Scopes>",
        );
        assert!(id.answer(scoped.as_bytes(), local).is_none());
        let scoped = probe_message(mid, "").replace(
            "</d:Types>",
            "</d:Types><d:Scopes>onvif://www.onvif.org/Profile</d:Scopes>",
        );
        assert!(id.answer(scoped.as_bytes(), local).is_some());
        let remote: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        assert!(
            id.answer(probe_message(mid, "").as_bytes(), remote)
                .is_none()
        );
        assert!(id.answer(b"<not-xml", local).is_none());
        assert!(
            id.answer(id.announcement(false).as_bytes(), local)
                .is_none()
        );
    }

    #[test]
    fn hello_and_bye_parse() {
        let id = identity();
        let from: SocketAddr = "127.0.0.1:3702".parse().unwrap();
        match parse_announcement(id.announcement(false).as_bytes(), from) {
            Some(Announcement::Hello(d)) => assert_eq!(d.endpoint_reference, "urn:uuid:abc"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_announcement(id.announcement(true).as_bytes(), from),
            Some(Announcement::Bye { .. })
        ));
    }
}

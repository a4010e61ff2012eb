//! The `Transport` header of SETUP (RFC 2326 section 12.39): which of the client's proposals
//! the sim accepts, and the answer it sends back.
//!
//! Accepted: `RTP/AVP/TCP;unicast;interleaved=a-b` and `RTP/AVP[/UDP];unicast;client_port=a-b`.
//! Multicast and a client-chosen `destination` are refused: the sim only ever sends to the
//! peer of the RTSP connection, so it cannot be used to flood a third party.

/// A transport the sim agreed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TransportSpec {
    /// RTP and RTCP interleaved on the RTSP connection, on these channels.
    Interleaved { rtp: u8, rtcp: u8 },
    /// RTP and RTCP over UDP to these ports of the RTSP peer.
    Udp { rtp_port: u16, rtcp_port: u16 },
}

/// Picks the first acceptable proposal from a `Transport` header value.
pub(crate) fn choose(header: &str) -> Option<TransportSpec> {
    header.split(',').find_map(parse_one)
}

fn parse_one(spec: &str) -> Option<TransportSpec> {
    let mut parts = spec.split(';').map(str::trim);
    let protocol = parts.next()?.to_ascii_uppercase();
    let tcp = match protocol.as_str() {
        "RTP/AVP/TCP" => true,
        "RTP/AVP" | "RTP/AVP/UDP" => false,
        _ => return None,
    };
    let mut interleaved = None;
    let mut client_port = None;
    for p in parts {
        let (key, value) = p.split_once('=').unwrap_or((p, ""));
        match key.to_ascii_lowercase().as_str() {
            "multicast" | "destination" => return None,
            "interleaved" => interleaved = Some(range::<u8>(value)?),
            "client_port" => client_port = Some(range::<u16>(value)?),
            "mode" if !value.trim_matches('"').eq_ignore_ascii_case("play") => return None,
            _ => {}
        }
    }
    if tcp {
        let (rtp, rtcp) = interleaved.unwrap_or((0, Some(1)));
        let rtcp = match rtcp {
            Some(r) => r,
            None => rtp.checked_add(1)?,
        };
        Some(TransportSpec::Interleaved { rtp, rtcp })
    } else {
        let (rtp_port, rtcp_port) = client_port?;
        let rtcp_port = match rtcp_port {
            Some(r) => r,
            None => rtp_port.checked_add(1)?,
        };
        if rtp_port == 0 || rtcp_port == 0 {
            return None;
        }
        Some(TransportSpec::Udp {
            rtp_port,
            rtcp_port,
        })
    }
}

/// Parses `a-b` or `a`.
fn range<T: std::str::FromStr>(v: &str) -> Option<(T, Option<T>)> {
    match v.split_once('-') {
        Some((a, b)) => Some((a.trim().parse().ok()?, Some(b.trim().parse().ok()?))),
        None => Some((v.trim().parse().ok()?, None)),
    }
}

/// The `Transport` value of the SETUP response.
pub(crate) fn answer(spec: TransportSpec, server_ports: Option<(u16, u16)>, ssrc: u32) -> String {
    match (spec, server_ports) {
        (TransportSpec::Interleaved { rtp, rtcp }, _) => {
            format!("RTP/AVP/TCP;unicast;interleaved={rtp}-{rtcp};ssrc={ssrc:08X};mode=\"PLAY\"")
        }
        (
            TransportSpec::Udp {
                rtp_port,
                rtcp_port,
            },
            Some((s_rtp, s_rtcp)),
        ) => format!(
            "RTP/AVP;unicast;client_port={rtp_port}-{rtcp_port};server_port={s_rtp}-{s_rtcp};ssrc={ssrc:08X};mode=\"PLAY\""
        ),
        (TransportSpec::Udp { .. }, None) => {
            format!("RTP/AVP;unicast;ssrc={ssrc:08X};mode=\"PLAY\"")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_tcp_and_udp_proposals() {
        assert_eq!(
            choose("RTP/AVP/TCP;unicast;interleaved=0-1"),
            Some(TransportSpec::Interleaved { rtp: 0, rtcp: 1 })
        );
        assert_eq!(
            choose("RTP/AVP/TCP;unicast;interleaved=4"),
            Some(TransportSpec::Interleaved { rtp: 4, rtcp: 5 })
        );
        assert_eq!(
            choose("RTP/AVP;unicast;client_port=5000-5001"),
            Some(TransportSpec::Udp {
                rtp_port: 5000,
                rtcp_port: 5001
            })
        );
        assert_eq!(
            choose("RTP/AVP/UDP;unicast;client_port=5000"),
            Some(TransportSpec::Udp {
                rtp_port: 5000,
                rtcp_port: 5001
            })
        );
    }

    #[test]
    fn skips_unsupported_proposals() {
        assert_eq!(
            choose("RTP/AVP;multicast, RTP/AVP/TCP;unicast;interleaved=2-3"),
            Some(TransportSpec::Interleaved { rtp: 2, rtcp: 3 })
        );
        assert_eq!(
            choose("RTP/AVP;unicast;client_port=5000-5001;destination=10.0.0.1"),
            None
        );
        assert_eq!(choose("RTP/AVP;unicast"), None);
        assert_eq!(choose("RTP/AVP/TCP;interleaved=255"), None);
        assert_eq!(choose("RAW/RAW/UDP;unicast;client_port=1-2"), None);
        assert_eq!(choose("RTP/AVP;unicast;client_port=x-y"), None);
        assert_eq!(choose("RTP/AVP;unicast;client_port=9;mode=record"), None);
        assert_eq!(choose(""), None);
    }

    #[test]
    fn answers_name_the_server_ports() {
        let a = answer(
            TransportSpec::Udp {
                rtp_port: 5000,
                rtcp_port: 5001,
            },
            Some((6000, 6001)),
            0xab,
        );
        assert_eq!(
            a,
            "RTP/AVP;unicast;client_port=5000-5001;server_port=6000-6001;ssrc=000000AB;mode=\"PLAY\""
        );
    }
}

//! The sim camera's ONVIF face: what lets a VMS (and `camwire demo`) find the sim and learn its
//! stream the way it finds real cameras, instead of being handed an RTSP URL.
//!
//! - HTTP/1.1 SOAP endpoints: the device service (`/onvif/device_service`: GetSystemDateAndTime,
//!   GetDeviceInformation, GetServices, GetCapabilities, GetScopes), Media (ver10) at
//!   `/onvif/media_service` (GetProfiles, GetProfile, GetStreamUri pointing at the sim's RTSP
//!   stream, GetSnapshotUri, GetVideoEncoderConfigurations, GetVideoSources) and events at
//!   `/onvif/events_service` (PullPoint subscriptions with a simulated motion detector, see
//!   `events.rs`); a JPEG snapshot at `/onvif/snapshot.jpg`.
//! - With a recording ([`SimOptions::recording`](super::SimOptions::recording)), Profile G:
//!   Recording Search at `/onvif/search_service`, Replay at `/onvif/replay_service` and the
//!   read-only Recording service at `/onvif/recording_service`, listed by GetServices and in
//!   GetCapabilities' `Extension` (`recording.rs`).
//! - Auth like real cameras when the sim has credentials: every SOAP call but
//!   GetSystemDateAndTime needs a WS-Security UsernameToken with PasswordDigest, `Created` in
//!   the camera clock (which [`SimOnvifOptions::clock_offset_secs`] can put off, as cheap cameras
//!   are); the snapshot needs HTTP Digest.
//! - WS-Discovery: a unicast Probe responder on its own UDP port, the multicast group when it can
//!   be joined, Hello on start and Bye on shutdown (`discovery.rs`).
//!
//! The one profile matches the clip: H.264 at the clip's size and frame rate.

mod discovery;
mod events;
mod http;
mod recording;
mod soap;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::io::BufReader;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::{JoinHandle, JoinSet};

use self::discovery::Identity;
use self::events::Subscriptions;
use self::http::{ReadError, Request, Response};
use self::recording::{ProfileG, RECORDING_PATH, REPLAY_PATH, SEARCH_PATH};
use self::soap::{Fault, envelope, parse_xsd_duration, xsd_time};
use super::auth::{DigestAuth, Verdict, new_nonce};
use crate::onvif::xml::{self, Element, XmlLimits, escape};

/// The device service path (what discovery advertises as the XAddr).
pub const DEVICE_PATH: &str = "/onvif/device_service";
/// The media (ver10) service path.
pub const MEDIA_PATH: &str = "/onvif/media_service";
/// The event service path.
pub const EVENTS_PATH: &str = "/onvif/events_service";
/// The snapshot path (HTTP GET, JPEG).
pub const SNAPSHOT_PATH: &str = "/onvif/snapshot.jpg";
/// Where PullPoint subscriptions live: `/onvif/pullpoint/<id>`.
const PULLPOINT_PREFIX: &str = "/onvif/pullpoint/";
/// The one media profile's token.
pub const PROFILE_TOKEN: &str = "main";

/// The snapshot: the clip's first frame, encoded once with ffmpeg and committed.
static SNAPSHOT_JPEG: &[u8] = include_bytes!("../../testdata/sim_snapshot.jpg");

/// How long a keep-alive connection may sit idle (or a request take to arrive) before the
/// sim closes it.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Concurrent HTTP connections; more are closed at once, so a flood cannot exhaust the sim.
const MAX_CONNECTIONS: usize = 64;

/// Options for the ONVIF face. `Default`: ephemeral ports on the sim's IP, the standard
/// multicast group joined when possible, camera clock right, motion every 2 s.
#[derive(Clone, Debug)]
pub struct SimOnvifOptions {
    /// TCP port of the SOAP and snapshot endpoint, on the RTSP bind IP. 0 picks a free port;
    /// see [`SimCamera::xaddr`](super::SimCamera::xaddr).
    pub http_port: u16,
    /// UDP port of the unicast WS-Discovery responder, on the RTSP bind IP. 0 picks a free
    /// port; see [`SimCamera::discovery_addr`](super::SimCamera::discovery_addr).
    pub discovery_port: u16,
    /// The WS-Discovery group to listen on as well and to send Hello/Bye to (the standard
    /// 239.255.255.250:3702). Best effort: when the port is taken or no group can be joined the
    /// sim logs it and answers unicast probes only. `None`: unicast only.
    pub multicast: Option<SocketAddrV4>,
    /// Extra unicast destinations for Hello and Bye (for testing passive listeners).
    pub announce_to: Vec<SocketAddr>,
    /// Camera clock minus the real clock, in seconds: a camera with a wrong clock, against
    /// which WS-Security tokens are checked.
    pub clock_offset_secs: i64,
    /// Time between simulated motion changes on PullPoint subscriptions.
    pub motion_period: Duration,
}

impl Default for SimOnvifOptions {
    fn default() -> Self {
        SimOnvifOptions {
            http_port: 0,
            discovery_port: 0,
            multicast: Some(crate::onvif::discovery::MULTICAST_ADDR),
            announce_to: Vec::new(),
            clock_offset_secs: 0,
            motion_period: Duration::from_secs(2),
        }
    }
}

/// Stream facts the profile reports, read from the clip so they cannot drift from it.
struct Facts {
    width: u32,
    height: u32,
    fps: u32,
    bitrate_kbps: u64,
    gov_length: usize,
}

fn facts() -> Facts {
    let parsed = super::clip::parsed();
    let bytes = super::clip::clip();
    let sps = bytes
        .get(parsed.sps.clone())
        .and_then(|n| crate::h264::Sps::parse(n).ok());
    let frames = parsed.access_units.len().max(1) as u64;
    let idrs: Vec<usize> = parsed
        .access_units
        .iter()
        .enumerate()
        .filter(|(_, au)| {
            au.iter()
                .any(|r| bytes.get(r.clone()).map(super::clip::nal_type) == Some(5))
        })
        .map(|(i, _)| i)
        .collect();
    let gov_length = match idrs.as_slice() {
        [a, b, ..] => b - a,
        _ => parsed.access_units.len(),
    };
    Facts {
        width: sps.as_ref().map_or(640, |s| s.width()),
        height: sps.as_ref().map_or(360, |s| s.height()),
        fps: super::FPS,
        bitrate_kbps: (bytes.len() as u64 * 8 * u64::from(super::FPS)) / frames / 1000,
        gov_length,
    }
}

/// What every HTTP connection of one face reads.
struct State {
    rtsp_port: u16,
    http_port: u16,
    account: Option<(String, String)>,
    /// HTTP Digest for the snapshot. The nonce lives as long as the sim: clients open one
    /// connection per request, so a per-connection nonce would always look stale.
    digest: Option<DigestAuth>,
    http_nonce: String,
    clock_offset: SignedDuration,
    subscriptions: Subscriptions,
    identity: Arc<Identity>,
    facts: Facts,
    /// The Profile G services, when the sim has a recording.
    profile_g: Option<ProfileG>,
}

impl State {
    fn camera_now(&self) -> Timestamp {
        Timestamp::now()
            .checked_add(self.clock_offset)
            .unwrap_or_else(|_| Timestamp::now())
    }
}

/// The running face: its addresses and tasks. Dropping it aborts the tasks (after a Bye).
pub(crate) struct OnvifFace {
    http_addr: SocketAddr,
    discovery_addr: SocketAddr,
    identity: Arc<Identity>,
    /// Sockets and destinations for Hello/Bye.
    announcers: Vec<(Arc<UdpSocket>, Vec<SocketAddr>)>,
    tasks: Vec<JoinHandle<()>>,
    said_bye: bool,
}

/// Replaces an unspecified IP by loopback, for addresses handed to clients.
fn reachable(mut a: SocketAddr) -> SocketAddr {
    if a.ip().is_unspecified() {
        a.set_ip(Ipv4Addr::LOCALHOST.into());
    }
    a
}

impl OnvifFace {
    /// Binds the HTTP and discovery sockets on `ip` and starts serving; the RTSP server is at
    /// `rtsp_port` on the same IP.
    pub(crate) async fn start(
        ip: IpAddr,
        rtsp_port: u16,
        account: Option<(String, String)>,
        opts: SimOnvifOptions,
        recording: Option<super::recording::Plan>,
    ) -> std::io::Result<OnvifFace> {
        let listener = TcpListener::bind((ip, opts.http_port)).await?;
        let http_port = listener.local_addr()?.port();
        let unicast = Arc::new(UdpSocket::bind((ip, opts.discovery_port)).await?);
        let discovery_addr = reachable(unicast.local_addr()?);

        let xaddr_hosts: Vec<IpAddr> = if ip.is_unspecified() {
            let mut v: Vec<IpAddr> = crate::onvif::discovery::local_interfaces()
                .unwrap_or_default()
                .into_iter()
                .filter(|i| i.up)
                .map(|i| IpAddr::V4(i.addr))
                .collect();
            if v.is_empty() {
                v.push(Ipv4Addr::LOCALHOST.into());
            }
            v
        } else {
            vec![ip]
        };
        let xaddrs = xaddr_hosts
            .iter()
            .map(|h| format!("http://{}{DEVICE_PATH}", SocketAddr::new(*h, http_port)))
            .collect();
        let endpoint_reference = format!("urn:uuid:{}", crate::onvif::discovery::new_uuid());
        let identity = Arc::new(Identity::new(
            endpoint_reference,
            xaddrs,
            scopes(),
            ip.is_loopback(),
        ));
        let state = Arc::new(State {
            rtsp_port,
            http_port,
            digest: account.clone().map(|(u, p)| DigestAuth::new(u, p)),
            account,
            http_nonce: new_nonce(),
            clock_offset: SignedDuration::from_secs(opts.clock_offset_secs),
            subscriptions: Subscriptions::new(opts.motion_period),
            identity: identity.clone(),
            facts: facts(),
            profile_g: recording.map(ProfileG::new),
        });

        let mut tasks = vec![
            tokio::spawn(accept_loop(listener, state)),
            tokio::spawn(discovery::respond(unicast.clone(), identity.clone())),
        ];
        let mut announcers = Vec::new();
        if !opts.announce_to.is_empty() {
            announcers.push((unicast, opts.announce_to.clone()));
        }
        if let Some(group) = opts.multicast
            && let Some(sock) = discovery::multicast_socket(group, &discovery::join_interfaces(ip))
        {
            let sock = Arc::new(sock);
            tasks.push(tokio::spawn(discovery::respond(
                sock.clone(),
                identity.clone(),
            )));
            announcers.push((sock, vec![SocketAddr::V4(group)]));
        }
        let hello = identity.announcement(false);
        for (sock, targets) in &announcers {
            discovery::announce(sock, &hello, targets).await;
        }
        let http_addr = reachable(SocketAddr::new(ip, http_port));
        log::debug!(
            "sim ONVIF: device service http://{http_addr}{DEVICE_PATH}, WS-Discovery on {discovery_addr}"
        );
        Ok(OnvifFace {
            http_addr,
            discovery_addr,
            identity,
            announcers,
            tasks,
            said_bye: false,
        })
    }

    /// Sends Bye (best effort, never blocks).
    fn bye(&mut self) {
        if std::mem::replace(&mut self.said_bye, true) {
            return;
        }
        let bye = self.identity.announcement(true);
        for (sock, targets) in &self.announcers {
            for t in targets {
                let _ = sock.try_send_to(bye.as_bytes(), *t);
            }
        }
    }

    /// Says Bye, stops every task and waits until they are gone (sockets closed).
    pub(crate) async fn shutdown(mut self) {
        self.bye();
        for t in &self.tasks {
            t.abort();
        }
        for t in std::mem::take(&mut self.tasks) {
            let _ = t.await;
        }
    }
}

impl Drop for OnvifFace {
    fn drop(&mut self) {
        self.bye();
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn scopes() -> Vec<String> {
    [
        "type/video_encoder",
        "type/Network_Video_Transmitter",
        "Profile/Streaming",
        "name/camwire-sim",
        "hardware/SimCamera",
        "location/loopback",
    ]
    .iter()
    .map(|s| format!("onvif://www.onvif.org/{s}"))
    .collect()
}

impl super::SimCamera {
    /// The ONVIF device-service address, `http://IP:PORT/onvif/device_service` (`None` when
    /// the sim runs without its ONVIF face).
    pub fn xaddr(&self) -> Option<String> {
        self.onvif
            .as_ref()
            .map(|f| format!("http://{}{DEVICE_PATH}", f.http_addr))
    }

    /// Where unicast WS-Discovery Probes reach the sim (unspecified IPs reported as
    /// 127.0.0.1).
    pub fn discovery_addr(&self) -> Option<SocketAddr> {
        self.onvif.as_ref().map(|f| f.discovery_addr)
    }

    /// The sim's WS-Discovery endpoint reference (`urn:uuid:...`), its identity in
    /// discovery answers.
    pub fn endpoint_reference(&self) -> Option<&str> {
        self.onvif
            .as_ref()
            .map(|f| f.identity.endpoint_reference.as_str())
    }

    /// The snapshot URL GetSnapshotUri hands out.
    pub fn snapshot_url(&self) -> Option<String> {
        self.onvif
            .as_ref()
            .map(|f| format!("http://{}{SNAPSHOT_PATH}", f.http_addr))
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    // Owned here so aborting this task aborts every connection with it.
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    if conns.len() >= MAX_CONNECTIONS {
                        drop(stream);
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    conns.spawn(serve_connection(stream, state.clone()));
                }
                Err(e) => {
                    log::warn!("sim ONVIF: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(done) = conns.join_next(), if !conns.is_empty() => {
                if let Err(e) = done
                    && e.is_panic()
                {
                    log::error!("sim ONVIF: a connection task panicked: {e}");
                }
            }
        }
    }
}

async fn serve_connection(stream: TcpStream, state: Arc<State>) {
    let Ok(local) = stream.local_addr() else {
        return;
    };
    let (r, mut w) = stream.into_split();
    let mut reader = BufReader::new(r);
    loop {
        let req = match tokio::time::timeout(IDLE_TIMEOUT, http::read_request(&mut reader)).await {
            Err(_) | Ok(Err(ReadError::Closed)) => return,
            Ok(Err(ReadError::Refuse(status, why))) => {
                let _ = http::write_response(&mut w, &Response::text(status, why), false).await;
                return;
            }
            Ok(Ok(r)) => r,
        };
        let resp = handle(&state, &req, local.ip()).await;
        let keep = req.keep_alive;
        if http::write_response(&mut w, &resp, keep).await.is_err() || !keep {
            return;
        }
    }
}

/// Which SOAP endpoint a request was sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    /// Device, media or events service: operations are routed by name, as many cameras do.
    Service,
    PullPoint(u64),
}

async fn handle(state: &State, req: &Request, local_ip: IpAddr) -> Response {
    let endpoint = match req.path.as_str() {
        DEVICE_PATH | MEDIA_PATH | EVENTS_PATH => Some(Endpoint::Service),
        SEARCH_PATH | REPLAY_PATH | RECORDING_PATH if state.profile_g.is_some() => {
            Some(Endpoint::Service)
        }
        p => p
            .strip_prefix(PULLPOINT_PREFIX)
            .and_then(|id| id.parse().ok())
            .map(Endpoint::PullPoint),
    };
    match (req.method.as_str(), req.path.as_str(), endpoint) {
        ("GET" | "HEAD", SNAPSHOT_PATH, _) => snapshot(state, req),
        ("POST", _, Some(ep)) => {
            let (status, body) = match soap_call(state, req, ep, local_ip).await {
                Ok(body) => (200, envelope(&body)),
                Err(f) => (f.status, f.to_envelope()),
            };
            Response::new(
                status,
                "application/soap+xml; charset=utf-8",
                body.into_bytes(),
            )
        }
        (_, SNAPSHOT_PATH, _) | (_, _, Some(_)) => Response::text(405, "method not allowed"),
        _ => Response::text(404, "not found"),
    }
}

fn snapshot(state: &State, req: &Request) -> Response {
    if let Some(digest) = &state.digest {
        let verdict = req
            .header("Authorization")
            .map(|a| digest.verify(&req.method, &req.target, a, &state.http_nonce));
        if verdict != Some(Verdict::Allowed) {
            let mut r = Response::text(401, "unauthorized");
            r.headers.push((
                "WWW-Authenticate",
                DigestAuth::challenge(&state.http_nonce, verdict == Some(Verdict::Stale)),
            ));
            return r;
        }
    }
    let body = if req.method == "HEAD" {
        Vec::new()
    } else {
        SNAPSHOT_JPEG.to_vec()
    };
    Response::new(200, "image/jpeg", body)
}

fn request_limits() -> XmlLimits {
    XmlLimits {
        max_bytes: http::MAX_BODY_BYTES,
        max_depth: 32,
        max_elements: 2_000,
    }
}

/// Runs one SOAP operation; `Ok` is the Body content of the answer.
async fn soap_call(
    state: &State,
    req: &Request,
    endpoint: Endpoint,
    local_ip: IpAddr,
) -> Result<String, Fault> {
    let root = xml::parse(&req.body, &request_limits())
        .map_err(|e| Fault::bad_request(format!("unreadable SOAP request: {e}")))?;
    if root.name != "Envelope" {
        return Err(Fault::bad_request("not a SOAP Envelope"));
    }
    let op_el = root
        .child("Body")
        .and_then(|b| b.children.first())
        .ok_or_else(|| Fault::bad_request("empty SOAP Body"))?;
    let op = op_el.name.as_str();
    // GetSystemDateAndTime is anonymous: clients need the camera clock to make a token.
    if op != "GetSystemDateAndTime"
        && let Some((user, password)) = &state.account
        && let Err(why) =
            soap::check_username_token(root.child("Header"), user, password, state.camera_now())
    {
        log::debug!("sim ONVIF: {op} refused: {why}");
        return Err(Fault::not_authorized());
    }
    let base = format!("http://{}", SocketAddr::new(local_ip, state.http_port));
    match endpoint {
        Endpoint::Service => {
            // GetServiceCapabilities is the one operation every service has: the path says
            // whose.
            if op == "GetServiceCapabilities"
                && let Some(pg) = &state.profile_g
                && let Some(answer) = pg.service_capabilities(&req.path)
            {
                return Ok(answer);
            }
            service_op(state, op, op_el, &base, local_ip)
        }
        Endpoint::PullPoint(id) => pull_point_op(state, op, op_el, id).await,
    }
}

fn service_op(
    state: &State,
    op: &str,
    el: &Element,
    base: &str,
    local_ip: IpAddr,
) -> Result<String, Fault> {
    let check_profile = || -> Result<(), Fault> {
        match el.text_at(&["ProfileToken"]) {
            Some(t) if t == PROFILE_TOKEN => Ok(()),
            Some(t) => Err(Fault::invalid_arg(
                "ter:NoProfile",
                format!("Profile token {t:?} does not exist"),
            )),
            None => Err(Fault::bad_request("ProfileToken missing")),
        }
    };
    if let Some(pg) = &state.profile_g
        && let Some(answer) = pg.op(op, el, local_ip, state.rtsp_port)
    {
        return answer;
    }
    let profile_g = state.profile_g.is_some();
    Ok(match op {
        "GetSystemDateAndTime" => system_date_and_time(state.camera_now()),
        "GetDeviceInformation" => format!(
            "<tds:GetDeviceInformationResponse><tds:Manufacturer>camwire</tds:Manufacturer><tds:Model>SimCamera</tds:Model><tds:FirmwareVersion>{}</tds:FirmwareVersion><tds:SerialNumber>{}</tds:SerialNumber><tds:HardwareId>camwire-sim</tds:HardwareId></tds:GetDeviceInformationResponse>",
            env!("CARGO_PKG_VERSION"),
            escape(serial(&state.identity.endpoint_reference))
        ),
        "GetServices" => {
            let svc = |ns: &str, path: &str, minor: u32| {
                format!(
                    "<tds:Service><tds:Namespace>{ns}</tds:Namespace><tds:XAddr>{base}{path}</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>{minor}</tt:Minor></tds:Version></tds:Service>"
                )
            };
            format!(
                "<tds:GetServicesResponse>{}{}{}{}</tds:GetServicesResponse>",
                svc("http://www.onvif.org/ver10/device/wsdl", DEVICE_PATH, 60),
                svc("http://www.onvif.org/ver10/media/wsdl", MEDIA_PATH, 60),
                svc("http://www.onvif.org/ver10/events/wsdl", EVENTS_PATH, 60),
                if profile_g {
                    ProfileG::services(base)
                } else {
                    String::new()
                },
            )
        }
        "GetCapabilities" => format!(
            concat!(
                "<tds:GetCapabilitiesResponse><tds:Capabilities>",
                "<tt:Device><tt:XAddr>{base}{dev}</tt:XAddr></tt:Device>",
                "<tt:Events><tt:XAddr>{base}{ev}</tt:XAddr><tt:WSSubscriptionPolicySupport>false</tt:WSSubscriptionPolicySupport><tt:WSPullPointSupport>true</tt:WSPullPointSupport><tt:WSPausableSubscriptionManagerInterfaceSupport>false</tt:WSPausableSubscriptionManagerInterfaceSupport></tt:Events>",
                "<tt:Media><tt:XAddr>{base}{media}</tt:XAddr><tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>",
                "{ext}</tds:Capabilities></tds:GetCapabilitiesResponse>"
            ),
            base = base,
            dev = DEVICE_PATH,
            ev = EVENTS_PATH,
            media = MEDIA_PATH,
            ext = if profile_g {
                ProfileG::capabilities_extension(base)
            } else {
                String::new()
            }
        ),
        "GetScopes" => {
            let items: String = state
                .identity
                .scopes
                .iter()
                .map(|s| {
                    format!(
                        "<tds:Scopes><tt:ScopeDef>Fixed</tt:ScopeDef><tt:ScopeItem>{}</tt:ScopeItem></tds:Scopes>",
                        escape(s)
                    )
                })
                .collect();
            format!("<tds:GetScopesResponse>{items}</tds:GetScopesResponse>")
        }
        "GetProfiles" => format!(
            "<trt:GetProfilesResponse>{}</trt:GetProfilesResponse>",
            profile_xml("trt:Profiles", &state.facts)
        ),
        "GetProfile" => {
            check_profile()?;
            format!(
                "<trt:GetProfileResponse>{}</trt:GetProfileResponse>",
                profile_xml("trt:Profile", &state.facts)
            )
        }
        "GetStreamUri" => {
            check_profile()?;
            if el.text_at(&["StreamSetup", "Stream"]) == Some("RTP-Multicast") {
                return Err(Fault::invalid_arg(
                    "ter:InvalidStreamSetup",
                    "Multicast streaming is not offered",
                ));
            }
            let uri = super::rtsp_url(SocketAddr::new(local_ip, state.rtsp_port));
            format!(
                "<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>{}</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>",
                escape(&uri)
            )
        }
        "GetSnapshotUri" => {
            check_profile()?;
            format!(
                "<trt:GetSnapshotUriResponse><trt:MediaUri><tt:Uri>{base}{SNAPSHOT_PATH}</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetSnapshotUriResponse>"
            )
        }
        "GetVideoEncoderConfigurations" => format!(
            "<trt:GetVideoEncoderConfigurationsResponse>{}</trt:GetVideoEncoderConfigurationsResponse>",
            encoder_xml("trt:Configurations", &state.facts)
        ),
        "GetVideoSources" => format!(
            "<trt:GetVideoSourcesResponse><trt:VideoSources token=\"vs0\"><tt:Framerate>{}</tt:Framerate><tt:Resolution><tt:Width>{}</tt:Width><tt:Height>{}</tt:Height></tt:Resolution></trt:VideoSources></trt:GetVideoSourcesResponse>",
            state.facts.fps, state.facts.width, state.facts.height
        ),
        "CreatePullPointSubscription" => {
            let wanted = el
                .text_at(&["InitialTerminationTime"])
                .and_then(|t| termination(t, state.camera_now()))
                .unwrap_or(Duration::from_secs(60));
            let (id, life) = state.subscriptions.create(wanted)?;
            let now = state.camera_now();
            format!(
                "<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference><wsa:Address>{base}{PULLPOINT_PREFIX}{id}</wsa:Address></tev:SubscriptionReference><wsnt:CurrentTime>{}</wsnt:CurrentTime><wsnt:TerminationTime>{}</wsnt:TerminationTime></tev:CreatePullPointSubscriptionResponse>",
                xsd_time(now),
                xsd_time(add(now, life))
            )
        }
        other => return Err(Fault::action_not_supported(other)),
    })
}

async fn pull_point_op(state: &State, op: &str, el: &Element, id: u64) -> Result<String, Fault> {
    match op {
        "PullMessages" => {
            let wait = el
                .text_at(&["Timeout"])
                .and_then(parse_xsd_duration)
                .unwrap_or(Duration::from_secs(5));
            let limit = el
                .text_at(&["MessageLimit"])
                .and_then(|l| l.trim().parse().ok())
                .unwrap_or(10);
            let msgs = state.subscriptions.pull(id, wait, limit).await?;
            let now = state.camera_now();
            let left = state.subscriptions.remaining(id).unwrap_or_default();
            let body: String = msgs
                .iter()
                .map(|(i, at)| events::notification(*i, *at, now))
                .collect();
            Ok(format!(
                "<tev:PullMessagesResponse><tev:CurrentTime>{}</tev:CurrentTime><tev:TerminationTime>{}</tev:TerminationTime>{body}</tev:PullMessagesResponse>",
                xsd_time(now),
                xsd_time(add(now, left))
            ))
        }
        "Renew" => {
            let now = state.camera_now();
            let wanted = el
                .text_at(&["TerminationTime"])
                .and_then(|t| termination(t, now))
                .unwrap_or(Duration::from_secs(60));
            let life = state.subscriptions.renew(id, wanted)?;
            Ok(format!(
                "<wsnt:RenewResponse><wsnt:TerminationTime>{}</wsnt:TerminationTime><wsnt:CurrentTime>{}</wsnt:CurrentTime></wsnt:RenewResponse>",
                xsd_time(add(now, life)),
                xsd_time(now)
            ))
        }
        "Unsubscribe" => {
            state.subscriptions.remove(id)?;
            Ok("<wsnt:UnsubscribeResponse/>".into())
        }
        "SetSynchronizationPoint" => Ok("<tev:SetSynchronizationPointResponse/>".into()),
        other => Err(Fault::action_not_supported(other)),
    }
}

/// A requested termination: an `xsd:duration` or an absolute time (camera clock).
fn termination(t: &str, camera_now: Timestamp) -> Option<Duration> {
    parse_xsd_duration(t).or_else(|| {
        let at: Timestamp = t.trim().parse().ok()?;
        Duration::try_from(at.duration_since(camera_now)).ok()
    })
}

fn add(t: Timestamp, d: Duration) -> Timestamp {
    SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d).ok())
        .unwrap_or(t)
}

/// A serial number that stays the same for one sim (from its endpoint reference).
fn serial(endpoint_reference: &str) -> &str {
    let id = endpoint_reference.trim_start_matches("urn:uuid:");
    id.get(..8).unwrap_or(id)
}

fn system_date_and_time(now: Timestamp) -> String {
    let dt = now.to_zoned(jiff::tz::TimeZone::UTC).datetime();
    format!(
        concat!(
            "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>",
            "<tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>",
            "<tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone>",
            "<tt:UTCDateTime><tt:Time><tt:Hour>{}</tt:Hour><tt:Minute>{}</tt:Minute><tt:Second>{}</tt:Second></tt:Time>",
            "<tt:Date><tt:Year>{}</tt:Year><tt:Month>{}</tt:Month><tt:Day>{}</tt:Day></tt:Date></tt:UTCDateTime>",
            "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
        ),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.year(),
        dt.month(),
        dt.day()
    )
}

fn encoder_xml(tag: &str, f: &Facts) -> String {
    format!(
        concat!(
            r#"<{tag} token="vec0"><tt:Name>H264 main</tt:Name><tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding>"#,
            "<tt:Resolution><tt:Width>{w}</tt:Width><tt:Height>{h}</tt:Height></tt:Resolution><tt:Quality>5</tt:Quality>",
            "<tt:RateControl><tt:FrameRateLimit>{fps}</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval><tt:BitrateLimit>{kbps}</tt:BitrateLimit></tt:RateControl>",
            "<tt:H264><tt:GovLength>{gov}</tt:GovLength><tt:H264Profile>Main</tt:H264Profile></tt:H264>",
            "<tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type><tt:IPv4Address>0.0.0.0</tt:IPv4Address></tt:Address><tt:Port>0</tt:Port><tt:TTL>1</tt:TTL><tt:AutoStart>false</tt:AutoStart></tt:Multicast>",
            "<tt:SessionTimeout>PT60S</tt:SessionTimeout></{tag}>"
        ),
        tag = tag,
        w = f.width,
        h = f.height,
        fps = f.fps,
        kbps = f.bitrate_kbps,
        gov = f.gov_length
    )
}

fn profile_xml(tag: &str, f: &Facts) -> String {
    format!(
        concat!(
            r#"<{tag} token="{token}" fixed="true"><tt:Name>mainStream</tt:Name>"#,
            r#"<tt:VideoSourceConfiguration token="vsc0"><tt:Name>VideoSource</tt:Name><tt:UseCount>1</tt:UseCount><tt:SourceToken>vs0</tt:SourceToken><tt:Bounds x="0" y="0" width="{w}" height="{h}"/></tt:VideoSourceConfiguration>"#,
            "{enc}</{tag}>"
        ),
        tag = tag,
        token = PROFILE_TOKEN,
        w = f.width,
        h = f.height,
        enc = encoder_xml("tt:VideoEncoderConfiguration", f)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_match_the_clip() {
        let f = facts();
        assert_eq!((f.width, f.height, f.fps, f.gov_length), (640, 360, 25, 50));
        assert!((200..=400).contains(&f.bitrate_kbps), "{}", f.bitrate_kbps);
        assert!(SNAPSHOT_JPEG.starts_with(&[0xFF, 0xD8]));
    }

    #[test]
    fn media1_answers_read_back_by_the_client() {
        use crate::onvif::xml::XmlLimits;
        let f = facts();
        let env = envelope(&format!(
            "<trt:GetProfilesResponse>{}</trt:GetProfilesResponse>",
            profile_xml("trt:Profiles", &f)
        ));
        let el =
            crate::onvif::soap::parse_response("t", 200, env.as_bytes(), &XmlLimits::default())
                .unwrap();
        let p = crate::onvif::media::parse_profiles(&el, crate::onvif::MediaVersion::Media1);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].token, PROFILE_TOKEN);
        assert_eq!(p[0].encoding.as_deref(), Some("H264"));
        assert_eq!(
            (p[0].width, p[0].height, p[0].fps),
            (Some(640), Some(360), Some(25.0))
        );
        let env = envelope(&system_date_and_time(
            "2024-03-05T06:07:08Z".parse().unwrap(),
        ));
        let el =
            crate::onvif::soap::parse_response("t", 200, env.as_bytes(), &XmlLimits::default())
                .unwrap();
        assert_eq!(
            crate::onvif::soap::parse_system_date_and_time(&el)
                .unwrap()
                .to_string(),
            "2024-03-05T06:07:08Z"
        );
    }

    #[test]
    fn termination_forms() {
        let now: Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(termination("PT30S", now), Some(Duration::from_secs(30)));
        assert_eq!(
            termination("2024-01-01T00:01:00Z", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(termination("2023-01-01T00:00:00Z", now), None);
        assert_eq!(termination("soon", now), None);
    }
}

//! The device service: connecting to a camera, learning its clock and services, and the
//! informational calls (device information, capabilities, scopes, network interfaces).
//!
//! Connecting does three things in order, each needed by the next:
//! 1. GetSystemDateAndTime, anonymous first, to learn the camera's clock for WS-Security;
//! 2. GetServices (GetCapabilities on older firmware) to learn where media, events and PTZ live;
//! 3. rewrite those addresses when the camera reports a host other than the one we reached
//!    (NAT, a second NIC, a stale static configuration): see [`HostRewriter`].

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use url::Url;

use super::auth::Credentials;
use super::error::{Error, ErrorKind, Result, redact_url};
use super::soap::{AuthMethod, ClientOptions, Transport, ns, strip_userinfo, userinfo_credentials};
use super::xml::Element;

/// GetDeviceInformation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceInformation {
    /// Manufacturer.
    pub manufacturer: String,
    /// Model.
    pub model: String,
    /// Firmware version.
    pub firmware_version: String,
    /// Serial number.
    pub serial_number: String,
    /// Hardware id.
    pub hardware_id: String,
}

/// One entry of GetServices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Service namespace, e.g. `http://www.onvif.org/ver20/media/wsdl`.
    pub namespace: String,
    /// Address as the device reported it.
    pub reported_xaddr: String,
    /// Address we use (after host rewrite).
    pub xaddr: Url,
    /// `Major.Minor` version, when given.
    pub version: Option<(u32, u32)>,
}

/// Where the device's services live (after host rewrite).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Services {
    /// Device management service (the address we connected to).
    pub device: Url,
    /// Media (ver10), if offered.
    pub media: Option<Url>,
    /// Media2 (ver20), if offered.
    pub media2: Option<Url>,
    /// Events, if offered.
    pub events: Option<Url>,
    /// PTZ, if offered.
    pub ptz: Option<Url>,
    /// Imaging, if offered.
    pub imaging: Option<Url>,
    /// Everything GetServices listed (empty when only GetCapabilities worked).
    pub all: Vec<Service>,
}

/// The parts of GetCapabilities we use.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// Device service address as reported.
    pub device: Option<String>,
    /// Media service address as reported.
    pub media: Option<String>,
    /// Events service address as reported.
    pub events: Option<String>,
    /// PTZ service address as reported.
    pub ptz: Option<String>,
    /// Imaging service address as reported.
    pub imaging: Option<String>,
    /// `Events/WSPullPointSupport`.
    pub pull_point_support: Option<bool>,
    /// `Media/StreamingCapabilities/RTP_RTSP_TCP`.
    pub rtp_rtsp_tcp: Option<bool>,
}

/// One scope from GetScopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// `Fixed` or `Configurable`.
    pub definition: String,
    /// The scope URI, e.g. `onvif://www.onvif.org/name/Cam1`.
    pub item: String,
}

/// One entry of GetNetworkInterfaces.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkInterface {
    /// Interface token.
    pub token: String,
    /// Enabled flag.
    pub enabled: bool,
    /// Interface name.
    pub name: String,
    /// MAC address.
    pub hw_address: String,
    /// MTU.
    pub mtu: Option<u32>,
    /// IPv4 addresses (manual, DHCP-assigned and link-local) as `addr/prefix`.
    pub ipv4: Vec<String>,
    /// Whether IPv4 comes from DHCP.
    pub ipv4_dhcp: Option<bool>,
}

/// Rewrites hosts in addresses a device reports, towards the host we actually reached.
///
/// SOAP service addresses: when the host differs, host and port are replaced by the ones we
/// reached, unless the reported port differs from the device service's own reported port (a
/// service deliberately on another port keeps it). Media URIs (RTSP, snapshot): only the host
/// is replaced; their ports belong to other servers. Every rewrite is logged at info level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRewriter {
    enabled: bool,
    reached_scheme: String,
    reached_host: String,
    reached_port: Option<u16>,
    reported_device_port: Option<u16>,
}

impl HostRewriter {
    /// A rewriter towards the host and port of `reached`.
    pub fn new(reached: &Url, enabled: bool) -> Self {
        Self {
            enabled,
            reached_scheme: reached.scheme().to_string(),
            reached_host: reached.host_str().unwrap_or("").to_string(),
            reached_port: reached.port_or_known_default(),
            reported_device_port: None,
        }
    }

    fn host_differs(&self, u: &Url) -> bool {
        self.enabled
            && !self.reached_host.is_empty()
            && u.host_str()
                .is_some_and(|h| !h.eq_ignore_ascii_case(&self.reached_host))
    }

    /// Rewrites a SOAP service address; `None` when `reported` is not a usable URL.
    pub fn service(&self, reported: &str) -> Option<Url> {
        let mut u = Url::parse(reported.trim()).ok()?;
        if !self.host_differs(&u) {
            return Some(u);
        }
        let keep_port = matches!(
            (self.reported_device_port, u.port_or_known_default()),
            (Some(dev), Some(p)) if dev != p
        );
        let before = redact_url(u.as_str());
        u.set_host(Some(&self.reached_host)).ok()?;
        if !keep_port {
            // The port we reached speaks the scheme we reached it with (a camera behind an
            // HTTPS port forward still reports its LAN http:// addresses).
            u.set_scheme(&self.reached_scheme).ok()?;
            u.set_port(self.reached_port).ok()?;
        }
        log::info!(
            "ONVIF: device reported {before}, rewritten to {} (the address we reached)",
            redact_url(u.as_str())
        );
        Some(u)
    }

    /// Rewrites a media URI (RTSP stream, HTTP snapshot): host only.
    pub fn media_uri(&self, reported: &str) -> String {
        let Ok(mut u) = Url::parse(reported.trim()) else {
            return reported.trim().to_string();
        };
        if !self.host_differs(&u) {
            return reported.trim().to_string();
        }
        if u.set_host(Some(&self.reached_host)).is_err() {
            return reported.trim().to_string();
        }
        log::info!(
            "ONVIF: device reported media URI {}, rewritten to {}",
            redact_url(reported),
            redact_url(u.as_str())
        );
        u.to_string()
    }
}

/// A connected ONVIF device. Cheap to clone: clones share the transport (clock offset,
/// remembered auth).
#[derive(Debug, Clone)]
pub struct OnvifDevice {
    pub(crate) transport: Arc<Transport>,
    pub(crate) services: Services,
    pub(crate) rewriter: HostRewriter,
}

/// Accepts a full device-service URL, or `host`, `host:port`, `http://host[:port]` and adds
/// the standard `/onvif/device_service` path.
pub fn normalize_xaddr(xaddr: &str) -> Result<Url> {
    let s = xaddr.trim();
    if s.is_empty() {
        return Err(Error::InvalidInput("empty device address".into()));
    }
    let with_scheme = if s.contains("://") {
        s.to_string()
    } else {
        format!("http://{s}")
    };
    let mut u = Url::parse(&with_scheme)
        .map_err(|e| Error::InvalidInput(format!("bad device address {}: {e}", redact_url(s))))?;
    if u.host_str().is_none_or(str::is_empty) {
        return Err(Error::InvalidInput(format!(
            "device address {} has no host",
            redact_url(s)
        )));
    }
    if u.path() == "/" || u.path().is_empty() {
        u.set_path("/onvif/device_service");
    }
    Ok(u)
}

pub(crate) const DEVICE_INFO_BODY: &str =
    r#"<tds:GetDeviceInformation xmlns:tds="http://www.onvif.org/ver10/device/wsdl"/>"#;

/// (namespace, reported XAddr, version) from GetServices.
type ServiceEntry = (String, String, Option<(u32, u32)>);

fn action(service_ns: &str, op: &str) -> String {
    format!("{service_ns}/{op}")
}

fn parse_version(el: &Element) -> Option<(u32, u32)> {
    let v = el.child("Version")?;
    Some((
        v.text_at(&["Major"])?.parse().ok()?,
        v.text_at(&["Minor"])?.parse().ok()?,
    ))
}

impl OnvifDevice {
    /// Connects to the device service at `xaddr` (see [`normalize_xaddr`] for accepted forms):
    /// measures the camera clock and learns its services. Credentials are optional; without
    /// them only anonymous operations work.
    pub async fn connect(
        xaddr: &str,
        credentials: Option<Credentials>,
        opts: ClientOptions,
    ) -> Result<Self> {
        let url = normalize_xaddr(xaddr)?;
        // `user:password@` in the address: taken out once here, so that no URL we keep (and
        // show in Debug output, errors and logs) carries the password. Explicit credentials
        // win, as they do per request.
        let credentials = credentials.or_else(|| userinfo_credentials(&url));
        let url = strip_userinfo(&url);
        let has_creds = credentials.is_some();
        let rewriter = HostRewriter::new(&url, opts.rewrite_hosts);
        let transport = Arc::new(Transport::new(url.clone(), credentials, opts));
        match transport.measure_clock().await {
            Ok(_) => {}
            Err(e) => match e.kind() {
                ErrorKind::Connection | ErrorKind::Timeout | ErrorKind::InvalidInput => {
                    return Err(e);
                }
                // Wrong credentials: stop now rather than spend more failed logins.
                ErrorKind::Auth if has_creds => return Err(e),
                _ => log::warn!(
                    "ONVIF {}: cannot read the camera clock ({e}); assuming it matches ours",
                    redact_url(url.as_str())
                ),
            },
        }
        let mut dev = OnvifDevice {
            transport,
            services: Services {
                device: url.clone(),
                media: None,
                media2: None,
                events: None,
                ptz: None,
                imaging: None,
                all: Vec::new(),
            },
            rewriter,
        };
        dev.discover_services().await?;
        Ok(dev)
    }

    async fn discover_services(&mut self) -> Result<()> {
        match self.get_services().await {
            Ok(list) => {
                self.apply_services(list);
                if self.services.media.is_some() || self.services.media2.is_some() {
                    return Ok(());
                }
            }
            Err(e) if e.kind() == ErrorKind::Auth => return Err(e),
            Err(Error::Timeout { .. }) | Err(Error::Connection { .. }) => {
                // Some cameras drop the connection on unknown operations; try the old call.
            }
            Err(e) => log::debug!("ONVIF GetServices failed ({e}); trying GetCapabilities"),
        }
        let caps = self.capabilities().await?;
        let map = |s: &Option<String>| s.as_deref().and_then(|x| self.rewriter.service(x));
        self.services.media = self.services.media.take().or_else(|| map(&caps.media));
        self.services.events = self.services.events.take().or_else(|| map(&caps.events));
        self.services.ptz = self.services.ptz.take().or_else(|| map(&caps.ptz));
        self.services.imaging = self.services.imaging.take().or_else(|| map(&caps.imaging));
        Ok(())
    }

    fn apply_services(&mut self, list: Vec<ServiceEntry>) {
        // The device's own entry tells us which port the device thinks it serves on.
        if let Some((_, x, _)) = list.iter().find(|(n, _, _)| n == ns::DEVICE)
            && let Ok(u) = Url::parse(x.trim())
        {
            self.rewriter.reported_device_port = u.port_or_known_default();
        }
        for (namespace, reported, version) in list {
            let Some(xaddr) = self.rewriter.service(&reported) else {
                log::debug!(
                    "ONVIF: ignoring unusable service address {}",
                    redact_url(&reported)
                );
                continue;
            };
            let slot = match namespace.as_str() {
                ns::MEDIA => Some(&mut self.services.media),
                ns::MEDIA2 => Some(&mut self.services.media2),
                ns::EVENTS => Some(&mut self.services.events),
                "http://www.onvif.org/ver20/ptz/wsdl" | "http://www.onvif.org/ver10/ptz/wsdl" => {
                    Some(&mut self.services.ptz)
                }
                "http://www.onvif.org/ver20/imaging/wsdl"
                | "http://www.onvif.org/ver10/imaging/wsdl" => Some(&mut self.services.imaging),
                _ => None,
            };
            if let Some(slot) = slot
                && slot.is_none()
            {
                *slot = Some(xaddr.clone());
            }
            self.services.all.push(Service {
                namespace,
                reported_xaddr: reported,
                xaddr,
                version,
            });
        }
    }

    /// The device-service address in use.
    pub fn xaddr(&self) -> &Url {
        &self.services.device
    }

    /// Where the device's services live.
    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Camera clock minus ours, as last measured.
    pub fn clock_offset(&self) -> SignedDuration {
        self.transport.clock_offset()
    }

    /// How the device last accepted our credentials.
    pub fn auth_method(&self) -> Option<AuthMethod> {
        self.transport.auth_method()
    }

    /// HTTP requests sent to this device so far (diagnostics, tests).
    pub fn request_count(&self) -> u64 {
        self.transport.request_count()
    }

    /// The options in use.
    pub fn options(&self) -> &ClientOptions {
        &self.transport.opts
    }

    pub(crate) fn rewriter(&self) -> &HostRewriter {
        &self.rewriter
    }

    pub(crate) async fn call_device(&self, op: &str, body: &str) -> Result<Element> {
        self.transport
            .call(&self.services.device, &action(ns::DEVICE, op), body, "")
            .await
    }

    /// GetSystemDateAndTime (re-measures the clock offset too).
    pub async fn system_date_and_time(&self) -> Result<Timestamp> {
        self.transport.measure_clock().await
    }

    /// The device's UTC offset (its local time minus its UTC, from GetSystemDateAndTime),
    /// for vendor playback URLs that carry local time. `None` when the device does not give
    /// both times.
    pub async fn local_offset(&self) -> Result<Option<jiff::tz::Offset>> {
        let r = self
            .call_device(
                "GetSystemDateAndTime",
                super::soap::GET_SYSTEM_DATE_AND_TIME_BODY,
            )
            .await?;
        Ok(super::soap::parse_local_offset(&r))
    }

    /// GetDeviceInformation.
    pub async fn device_information(&self) -> Result<DeviceInformation> {
        let r = self
            .call_device("GetDeviceInformation", DEVICE_INFO_BODY)
            .await?;
        Ok(parse_device_information(&r))
    }

    async fn get_services(&self) -> Result<Vec<ServiceEntry>> {
        let r = self
            .call_device(
                "GetServices",
                r#"<tds:GetServices xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><tds:IncludeCapability>false</tds:IncludeCapability></tds:GetServices>"#,
            )
            .await?;
        Ok(r.children_named("Service")
            .filter_map(|s| {
                Some((
                    s.text_at(&["Namespace"])?.to_string(),
                    s.text_at(&["XAddr"])?.to_string(),
                    parse_version(s),
                ))
            })
            .collect())
    }

    /// GetCapabilities (category All).
    pub async fn capabilities(&self) -> Result<Capabilities> {
        let r = self
            .call_device(
                "GetCapabilities",
                r#"<tds:GetCapabilities xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><tds:Category>All</tds:Category></tds:GetCapabilities>"#,
            )
            .await?;
        Ok(parse_capabilities(&r))
    }

    /// GetScopes.
    pub async fn scopes(&self) -> Result<Vec<Scope>> {
        let r = self
            .call_device(
                "GetScopes",
                r#"<tds:GetScopes xmlns:tds="http://www.onvif.org/ver10/device/wsdl"/>"#,
            )
            .await?;
        Ok(r.children_named("Scopes")
            .filter_map(|s| {
                Some(Scope {
                    definition: s.text_at(&["ScopeDef"]).unwrap_or("").to_string(),
                    item: s.text_at(&["ScopeItem"])?.to_string(),
                })
            })
            .collect())
    }

    /// GetNetworkInterfaces.
    pub async fn network_interfaces(&self) -> Result<Vec<NetworkInterface>> {
        let r = self
            .call_device(
                "GetNetworkInterfaces",
                r#"<tds:GetNetworkInterfaces xmlns:tds="http://www.onvif.org/ver10/device/wsdl"/>"#,
            )
            .await?;
        Ok(r.children_named("NetworkInterfaces")
            .map(parse_network_interface)
            .collect())
    }
}

pub(crate) fn parse_device_information(r: &Element) -> DeviceInformation {
    let t = |n: &str| r.text_at(&[n]).unwrap_or("").to_string();
    DeviceInformation {
        manufacturer: t("Manufacturer"),
        model: t("Model"),
        firmware_version: t("FirmwareVersion"),
        serial_number: t("SerialNumber"),
        hardware_id: t("HardwareId"),
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

pub(crate) fn parse_capabilities(r: &Element) -> Capabilities {
    let caps = r.child("Capabilities").unwrap_or(r);
    let x = |n: &str| caps.text_at(&[n, "XAddr"]).map(str::to_owned);
    Capabilities {
        device: x("Device"),
        media: x("Media"),
        events: x("Events"),
        ptz: x("PTZ"),
        imaging: x("Imaging"),
        pull_point_support: caps
            .text_at(&["Events", "WSPullPointSupport"])
            .and_then(parse_bool),
        rtp_rtsp_tcp: caps
            .text_at(&["Media", "StreamingCapabilities", "RTP_RTSP_TCP"])
            .and_then(parse_bool),
    }
}

fn parse_network_interface(n: &Element) -> NetworkInterface {
    let mut ipv4 = Vec::new();
    if let Some(cfg) = n.path(&["IPv4", "Config"]) {
        for kind in ["Manual", "FromDHCP", "LinkLocal"] {
            for a in cfg.children_named(kind) {
                if let Some(addr) = a.text_at(&["Address"]) {
                    match a.text_at(&["PrefixLength"]) {
                        Some(p) => ipv4.push(format!("{addr}/{p}")),
                        None => ipv4.push(addr.to_string()),
                    }
                }
            }
        }
    }
    NetworkInterface {
        token: n.attr("token").unwrap_or("").to_string(),
        enabled: n
            .text_at(&["Enabled"])
            .and_then(parse_bool)
            .unwrap_or(false),
        name: n.text_at(&["Info", "Name"]).unwrap_or("").to_string(),
        hw_address: n.text_at(&["Info", "HwAddress"]).unwrap_or("").to_string(),
        mtu: n.text_at(&["Info", "MTU"]).and_then(|m| m.parse().ok()),
        ipv4,
        ipv4_dhcp: n.text_at(&["IPv4", "Config", "DHCP"]).and_then(parse_bool),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_forms() {
        assert_eq!(
            normalize_xaddr("10.0.0.5").unwrap().as_str(),
            "http://10.0.0.5/onvif/device_service"
        );
        assert_eq!(
            normalize_xaddr("10.0.0.5:8080").unwrap().as_str(),
            "http://10.0.0.5:8080/onvif/device_service"
        );
        assert_eq!(
            normalize_xaddr("http://cam/onvif/device_service")
                .unwrap()
                .as_str(),
            "http://cam/onvif/device_service"
        );
        assert!(normalize_xaddr("").is_err());
        assert!(normalize_xaddr("http://").is_err());
    }

    #[test]
    fn rewriter_rules() {
        let reached = Url::parse("http://127.0.0.1:8899/onvif/device_service").unwrap();
        let mut r = HostRewriter::new(&reached, true);
        r.reported_device_port = Some(80);
        assert_eq!(
            r.service("http://192.168.1.64/onvif/Media")
                .unwrap()
                .as_str(),
            "http://127.0.0.1:8899/onvif/Media"
        );
        // A service on a different port than the device service keeps its port.
        assert_eq!(
            r.service("http://192.168.1.64:8000/onvif/Events")
                .unwrap()
                .as_str(),
            "http://127.0.0.1:8000/onvif/Events"
        );
        // Same host: untouched even when the port differs.
        assert_eq!(
            r.service("http://127.0.0.1:9000/x").unwrap().as_str(),
            "http://127.0.0.1:9000/x"
        );
        assert_eq!(
            r.media_uri("rtsp://admin:pw@192.168.1.64:554/Streaming/101"),
            "rtsp://admin:pw@127.0.0.1:554/Streaming/101"
        );
        assert!(r.service("not a url").is_none());
        // Reached over HTTPS: a service on the device's own port takes our scheme with our
        // port (behind an HTTPS port forward the camera still reports http:// LAN addresses);
        // one on another port keeps both.
        let tls = Url::parse("https://cam.example:8443/onvif/device_service").unwrap();
        let mut t = HostRewriter::new(&tls, true);
        t.reported_device_port = Some(80);
        assert_eq!(
            t.service("http://192.168.1.64/onvif/Media")
                .unwrap()
                .as_str(),
            "https://cam.example:8443/onvif/Media"
        );
        assert_eq!(
            t.service("http://192.168.1.64:8000/onvif/Events")
                .unwrap()
                .as_str(),
            "http://cam.example:8000/onvif/Events"
        );
        let off = HostRewriter::new(&reached, false);
        assert_eq!(
            off.media_uri("rtsp://192.168.1.64/x"),
            "rtsp://192.168.1.64/x"
        );
    }
}

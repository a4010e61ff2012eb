//! The Replay service (Profile G, `http://www.onvif.org/ver10/replay/wsdl`): where it lives
//! (GetServices) and GetReplayUri, the RTSP URI of one recording that
//! [`crate::replay::fetch()`] downloads from.
//!
//! GetReplayUri keeps the WSDL element order (StreamSetup first, then RecordingToken) and
//! asks for RTP-Unicast over RTSP (interleaved TCP), as the Streaming spec tells replay
//! clients to use. The answer's host is rewritten like stream URIs when the device reports
//! an address we did not reach it by.

use url::Url;

use super::device::OnvifDevice;
use super::error::{Error, Result};
use super::xml::{Element, escape};

/// The Replay service namespace (also the prefix of its SOAP actions).
pub const REPLAY_NS: &str = "http://www.onvif.org/ver10/replay/wsdl";
/// The Recording Search service namespace.
pub const SEARCH_NS: &str = "http://www.onvif.org/ver10/search/wsdl";
/// The Recording Control service namespace.
pub const RECORDING_NS: &str = "http://www.onvif.org/ver10/recording/wsdl";

/// The body of GetReplayUri for `recording_token`: RTP-Unicast over RTSP.
pub fn replay_uri_request(recording_token: &str) -> String {
    format!(
        "<trp:GetReplayUri xmlns:trp=\"{REPLAY_NS}\" xmlns:tt=\"http://www.onvif.org/ver10/schema\">\
         <trp:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream><tt:Transport>\
         <tt:Protocol>RTSP</tt:Protocol></tt:Transport></trp:StreamSetup>\
         <trp:RecordingToken>{}</trp:RecordingToken></trp:GetReplayUri>",
        escape(recording_token)
    )
}

/// The `Uri` of a GetReplayUriResponse (the element inside the SOAP Body), trimmed; `None`
/// when it is missing or empty.
pub fn parse_replay_uri(resp: &Element) -> Option<&str> {
    if resp.name != "GetReplayUriResponse" {
        return None;
    }
    resp.find("Uri")
        .map(Element::trimmed)
        .filter(|u| !u.is_empty())
}

/// `Capabilities/Extension/<name>/XAddr` of a GetCapabilities answer (`Replay`, `Search`
/// or `Recording`): where firmware without GetServices says its Profile G services live.
pub fn parse_capability_extension_xaddr<'a>(resp: &'a Element, name: &str) -> Option<&'a str> {
    resp.child("Capabilities")
        .unwrap_or(resp)
        .path(&["Extension", name, "XAddr"])
        .map(Element::trimmed)
        .filter(|x| !x.is_empty())
}

impl OnvifDevice {
    /// The address of the Profile G service `namespace` ([`REPLAY_NS`], [`SEARCH_NS`],
    /// [`RECORDING_NS`]): from GetServices; when GetServices did not work (older firmware),
    /// from GetCapabilities' `Extension`. Host-rewritten.
    pub async fn profile_g_service(&self, namespace: &str) -> Result<Url> {
        if let Some(u) = self.service_by_namespace(namespace) {
            return Ok(u.clone());
        }
        let name = match namespace {
            REPLAY_NS => "Replay",
            SEARCH_NS => "Search",
            _ => "Recording",
        };
        let target = self.xaddr().as_str();
        let missing = || {
            Error::protocol(
                target,
                format!("the device lists no {name} service (no Profile G)"),
            )
        };
        if !self.services.all.is_empty() {
            return Err(missing());
        }
        let r = self
            .call_device(
                "GetCapabilities",
                r#"<tds:GetCapabilities xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><tds:Category>All</tds:Category></tds:GetCapabilities>"#,
            )
            .await?;
        parse_capability_extension_xaddr(&r, name)
            .and_then(|x| self.rewriter().service(x))
            .ok_or_else(missing)
    }

    /// The Replay service's address from GetServices (host-rewritten); `None` when the
    /// device lists none (no Profile G, or firmware that only answers GetCapabilities: see
    /// [`Self::profile_g_service`]).
    pub fn replay_service(&self) -> Option<&Url> {
        self.service_by_namespace(REPLAY_NS)
    }

    /// The address of the service with `namespace` from GetServices.
    pub fn service_by_namespace(&self, namespace: &str) -> Option<&Url> {
        self.services
            .all
            .iter()
            .find(|s| s.namespace == namespace)
            .map(|s| &s.xaddr)
    }

    /// GetReplayUri for `recording_token`: the RTSP URI to replay it from (host-rewritten).
    pub async fn replay_uri(&self, recording_token: &str) -> Result<String> {
        let target = self.xaddr().as_str();
        let endpoint = self.profile_g_service(REPLAY_NS).await?;
        let r = self
            .transport
            .call(
                &endpoint,
                &format!("{REPLAY_NS}/GetReplayUri"),
                &replay_uri_request(recording_token),
                "",
            )
            .await?;
        let uri = parse_replay_uri(&r)
            .ok_or_else(|| Error::protocol(target, "GetReplayUri answer without Uri"))?;
        Ok(self.rewriter().media_uri(uri))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::onvif::XmlLimits;
    use crate::onvif::soap::parse_response;

    /// The element inside the SOAP Body of `xml` (or its fault), as a device answer with
    /// HTTP 200; shared with the search tests.
    pub(crate) fn body(xml: &str) -> Result<Element> {
        parse_response(
            "http://cam/onvif/service",
            200,
            xml.as_bytes(),
            &XmlLimits::default(),
        )
    }

    /// Shaped like an Axis answer (own prefixes, the URI with query parameters and `&amp;`).
    const AXIS_LIKE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope"
  xmlns:trp="http://www.onvif.org/ver10/replay/wsdl">
 <SOAP-ENV:Header/>
 <SOAP-ENV:Body>
  <trp:GetReplayUriResponse>
   <trp:Uri>rtsp://192.168.0.90/onvif-media/record/play.amp?onvifreplayid=SD_DISK_20261125_100000_67086B52&amp;onvifreplayext=1&amp;streamtype=unicast&amp;session_timeout=30</trp:Uri>
  </trp:GetReplayUriResponse>
 </SOAP-ENV:Body>
</SOAP-ENV:Envelope>"#;

    /// Shaped like a gSOAP device (default namespaces, whitespace around the URI).
    const GSOAP_LIKE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>
<GetReplayUriResponse xmlns="http://www.onvif.org/ver10/replay/wsdl"><Uri>
  rtsp://10.1.1.20:554/ProfileG/OnvifRecordingToken_1/recording/play.smp
</Uri></GetReplayUriResponse></env:Body></env:Envelope>"#;

    /// A fault sent with HTTP 200, as some firmware does.
    const FAULT_200: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"
  xmlns:ter="http://www.onvif.org/ver10/error"><s:Body><s:Fault>
<s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>ter:InvalidArgVal</s:Value>
<s:Subcode><s:Value>ter:NoRecording</s:Value></s:Subcode></s:Subcode></s:Code>
<s:Reason><s:Text xml:lang="en">The recording token does not exist</s:Text></s:Reason>
</s:Fault></s:Body></s:Envelope>"#;

    #[test]
    fn axis_like_answer_gives_the_uri_with_its_query() {
        let r = body(AXIS_LIKE).expect("answer");
        assert_eq!(
            parse_replay_uri(&r),
            Some(
                "rtsp://192.168.0.90/onvif-media/record/play.amp?onvifreplayid=\
                 SD_DISK_20261125_100000_67086B52&onvifreplayext=1&streamtype=unicast&\
                 session_timeout=30"
            )
        );
    }

    #[test]
    fn gsoap_like_answer_is_trimmed() {
        let r = body(GSOAP_LIKE).expect("answer");
        assert_eq!(
            parse_replay_uri(&r),
            Some("rtsp://10.1.1.20:554/ProfileG/OnvifRecordingToken_1/recording/play.smp")
        );
    }

    #[test]
    fn fault_with_http_200_is_a_typed_fault() {
        let e = body(FAULT_200).expect_err("a fault");
        let text = e.to_string();
        assert!(
            text.contains("NoRecording") || text.contains("does not exist"),
            "{text}"
        );
    }

    #[test]
    fn an_answer_without_uri_or_of_another_operation_gives_none() {
        for xml in [
            r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><GetReplayUriResponse><Uri>  </Uri></GetReplayUriResponse></e:Body></e:Envelope>"#,
            r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><GetReplayUriResponse/></e:Body></e:Envelope>"#,
            r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><GetStreamUriResponse><MediaUri><Uri>rtsp://x/live</Uri></MediaUri></GetStreamUriResponse></e:Body></e:Envelope>"#,
        ] {
            let r = body(xml).expect("answer");
            assert_eq!(parse_replay_uri(&r), None, "{xml}");
        }
    }

    #[test]
    fn legacy_capabilities_name_the_profile_g_services() {
        let r = body(
            r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body>
<tds:GetCapabilitiesResponse xmlns:tds="http://www.onvif.org/ver10/device/wsdl"
 xmlns:tt="http://www.onvif.org/ver10/schema"><tds:Capabilities>
<tt:Media><tt:XAddr>http://10.0.0.5/onvif/Media</tt:XAddr></tt:Media>
<tt:Extension><tt:Recording><tt:XAddr>http://10.0.0.5/onvif/Recording</tt:XAddr></tt:Recording>
<tt:Search><tt:XAddr> http://10.0.0.5/onvif/SearchRecording </tt:XAddr><tt:MetadataSearch>false</tt:MetadataSearch></tt:Search>
<tt:Replay><tt:XAddr>http://10.0.0.5/onvif/Replay</tt:XAddr></tt:Replay></tt:Extension>
</tds:Capabilities></tds:GetCapabilitiesResponse></e:Body></e:Envelope>"#,
        )
        .expect("answer");
        assert_eq!(
            parse_capability_extension_xaddr(&r, "Replay"),
            Some("http://10.0.0.5/onvif/Replay")
        );
        assert_eq!(
            parse_capability_extension_xaddr(&r, "Search"),
            Some("http://10.0.0.5/onvif/SearchRecording")
        );
        assert_eq!(parse_capability_extension_xaddr(&r, "Media"), None);
        assert_eq!(parse_capability_extension_xaddr(&r, "Nothing"), None);
    }

    #[test]
    fn the_request_keeps_the_wsdl_order_and_escapes_the_token() {
        let b = replay_uri_request("Rec<1>&\"x\"");
        let setup = b.find("StreamSetup").expect("StreamSetup");
        let token = b.find("RecordingToken").expect("RecordingToken");
        assert!(setup < token, "StreamSetup comes first: {b}");
        assert!(b.contains("Rec&lt;1&gt;&amp;"), "{b}");
        assert!(b.contains("<tt:Stream>RTP-Unicast</tt:Stream>"));
        assert!(b.contains("<tt:Protocol>RTSP</tt:Protocol>"));
    }
}

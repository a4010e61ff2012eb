//! Events through a PullPoint subscription (the one event mechanism that works through NAT and
//! firewalls: we poll, the camera never calls us).
//!
//! [`PullPoint::pull`] keeps the subscription alive by itself: it renews before the
//! termination time (or re-subscribes when the device does not implement Renew), and when a
//! pull fails because the subscription vanished (camera reboot, expiry), it subscribes again
//! once and retries.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use url::Url;

use super::device::{HostRewriter, OnvifDevice};
use super::error::{Error, ErrorKind, Result};
use super::soap::{Transport, ns};
use super::xml::{self, Element, escape};

/// Options for a PullPoint subscription.
#[derive(Debug, Clone)]
pub struct PullPointOptions {
    /// Requested subscription lifetime (renewed automatically).
    pub termination: Duration,
    /// How long the device may hold a PullMessages request open waiting for events.
    pub pull_timeout: Duration,
    /// Most messages per PullMessages.
    pub message_limit: u32,
}

impl Default for PullPointOptions {
    fn default() -> Self {
        Self {
            termination: Duration::from_secs(60),
            pull_timeout: Duration::from_secs(5),
            message_limit: 100,
        }
    }
}

/// What an event means, for the events a VMS acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// Motion started (`true`) or stopped (`false`).
    Motion(bool),
    /// Tampering (cover, defocus, scene change) started or stopped.
    Tamper(bool),
    /// Anything else: read the topic and items.
    Other,
}

/// One notification from the device.
#[derive(Debug, Clone, PartialEq)]
pub struct OnvifEvent {
    /// Topic as sent, e.g. `tns1:RuleEngine/CellMotionDetector/Motion`.
    pub topic: String,
    /// Topic with namespace prefixes removed, e.g. `RuleEngine/CellMotionDetector/Motion`.
    pub topic_path: String,
    /// `UtcTime` of the message (camera clock).
    pub time: Option<Timestamp>,
    /// `Initialized`, `Changed` or `Deleted`, when given.
    pub property_operation: Option<String>,
    /// Source simple items (name, value), e.g. `VideoSourceConfigurationToken`.
    pub source: Vec<(String, String)>,
    /// Key simple items.
    pub key: Vec<(String, String)>,
    /// Data simple items, e.g. `IsMotion=true`.
    pub data: Vec<(String, String)>,
    /// Interpretation of the common topics.
    pub kind: EventKind,
}

fn items(el: Option<&Element>) -> Vec<(String, String)> {
    el.map(|e| {
        e.children_named("SimpleItem")
            .filter_map(|s| {
                Some((
                    s.attr("Name")?.to_string(),
                    s.attr("Value").unwrap_or("").to_string(),
                ))
            })
            .collect()
    })
    .unwrap_or_default()
}

fn strip_prefixes(topic: &str) -> String {
    topic
        .trim()
        .split('/')
        .map(|seg| seg.rsplit(':').next().unwrap_or(seg))
        .collect::<Vec<_>>()
        .join("/")
}

fn truthy(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "active" | "on" => Some(true),
        "false" | "0" | "inactive" | "off" => Some(false),
        _ => None,
    }
}

fn classify(topic_path: &str, data: &[(String, String)]) -> EventKind {
    let lower = topic_path.to_ascii_lowercase();
    let state = |names: &[&str]| {
        data.iter()
            .find(|(k, _)| names.iter().any(|n| k.eq_ignore_ascii_case(n)))
            .and_then(|(_, v)| truthy(v))
            .or_else(|| data.first().and_then(|(_, v)| truthy(v)))
    };
    if lower.contains("motion")
        && let Some(b) = state(&["IsMotion", "State", "Motion"])
    {
        return EventKind::Motion(b);
    }
    if (lower.contains("tamper") || lower.contains("globalscenechange"))
        && let Some(b) = state(&["IsTamper", "State", "IsGlobalSceneChange"])
    {
        return EventKind::Tamper(b);
    }
    EventKind::Other
}

/// Reads the NotificationMessages of a PullMessages answer.
pub(crate) fn parse_notifications(resp: &Element) -> Vec<OnvifEvent> {
    resp.children_named("NotificationMessage")
        .map(|n| {
            let topic = n.text_at(&["Topic"]).unwrap_or("").to_string();
            let topic_path = strip_prefixes(&topic);
            // wsnt:Message wraps tt:Message; tolerate the inner one missing.
            let outer = n.child("Message");
            let msg = outer.and_then(|m| m.child("Message")).or(outer);
            let data = items(msg.and_then(|m| m.child("Data")));
            OnvifEvent {
                kind: classify(&topic_path, &data),
                time: msg
                    .and_then(|m| m.attr("UtcTime"))
                    .and_then(|t| t.trim().parse().ok()),
                property_operation: msg
                    .and_then(|m| m.attr("PropertyOperation"))
                    .map(str::to_owned),
                source: items(msg.and_then(|m| m.child("Source"))),
                key: items(msg.and_then(|m| m.child("Key"))),
                data,
                topic,
                topic_path,
            }
        })
        .collect()
}

/// An xsd:duration for whole seconds (`PT60S`).
fn duration_xsd(d: Duration) -> String {
    format!("PT{}S", d.as_secs().max(1))
}

/// A live PullPoint subscription. Drop it without [`PullPoint::unsubscribe`] and the device
/// forgets it at its termination time.
#[derive(Debug)]
pub struct PullPoint {
    transport: Arc<Transport>,
    rewriter: HostRewriter,
    events_xaddr: Url,
    /// Address we send to (host-rewritten).
    address: Url,
    /// Address as reported (echoed in `wsa:To`).
    reported_address: String,
    /// Reference parameters serialized for echoing as SOAP headers.
    reference_headers: String,
    expires: Option<Instant>,
    renew_supported: bool,
    opts: PullPointOptions,
}

impl OnvifDevice {
    /// CreatePullPointSubscription on the device's event service.
    pub async fn pull_point(&self, opts: PullPointOptions) -> Result<PullPoint> {
        let events = self.services.events.clone().ok_or_else(|| {
            Error::protocol(self.xaddr().as_str(), "the device lists no event service")
        })?;
        let mut pp = PullPoint {
            transport: self.transport.clone(),
            rewriter: self.rewriter.clone(),
            events_xaddr: events.clone(),
            address: events,
            reported_address: String::new(),
            reference_headers: String::new(),
            expires: None,
            renew_supported: true,
            opts,
        };
        pp.subscribe().await?;
        Ok(pp)
    }
}

impl PullPoint {
    /// The subscription manager address in use.
    pub fn address(&self) -> &Url {
        &self.address
    }

    /// How long the device may hold the next PullMessages open (whole seconds on the wire,
    /// at least 1 s): lets a caller bound each [`PullPoint::pull`] by its own deadline.
    pub fn set_pull_timeout(&mut self, pull_timeout: Duration) {
        self.opts.pull_timeout = pull_timeout;
    }

    async fn subscribe(&mut self) -> Result<()> {
        let body = format!(
            r#"<tev:CreatePullPointSubscription xmlns:tev="{}"><tev:InitialTerminationTime>{}</tev:InitialTerminationTime></tev:CreatePullPointSubscription>"#,
            ns::EVENTS,
            duration_xsd(self.opts.termination)
        );
        let r = self
            .transport
            .call(
                &self.events_xaddr,
                "http://www.onvif.org/ver10/events/wsdl/EventPortType/CreatePullPointSubscriptionRequest",
                &body,
                "",
            )
            .await?;
        let sref = r.child("SubscriptionReference").ok_or_else(|| {
            Error::protocol(self.events_xaddr.as_str(), "no SubscriptionReference")
        })?;
        let reported = sref.text_at(&["Address"]).unwrap_or("").to_string();
        self.address = if reported.is_empty() {
            self.events_xaddr.clone()
        } else {
            self.rewriter
                .service(&reported)
                .unwrap_or_else(|| self.events_xaddr.clone())
        };
        self.reported_address = reported;
        let mut refs = String::new();
        if let Some(rp) = sref.child("ReferenceParameters") {
            for c in &rp.children {
                xml::serialize(c, &mut refs);
            }
        }
        self.reference_headers = refs;
        self.set_expiry(&r);
        log::debug!("ONVIF events: subscribed at {}", self.address);
        Ok(())
    }

    fn set_expiry(&mut self, r: &Element) {
        let parse = |n: &str| -> Option<Timestamp> { r.text_at(&[n])?.parse().ok() };
        self.expires = match (parse("CurrentTime"), parse("TerminationTime")) {
            (Some(cur), Some(term)) => {
                let secs = term.duration_since(cur).as_secs().max(0);
                Some(Instant::now() + Duration::from_secs(secs.unsigned_abs()))
            }
            _ => Some(Instant::now() + self.opts.termination),
        };
    }

    fn headers(&self, action: &str) -> String {
        let to = if self.reported_address.is_empty() {
            self.address.as_str()
        } else {
            self.reported_address.as_str()
        };
        format!(
            r#"<wsa:Action xmlns:wsa="{wsa}">{action}</wsa:Action><wsa:To xmlns:wsa="{wsa}">{to}</wsa:To>{refs}"#,
            wsa = ns::WSA,
            to = escape(to),
            refs = self.reference_headers
        )
    }

    async fn call(&self, action: &str, body: &str) -> Result<Element> {
        self.transport
            .call(&self.address, action, body, &self.headers(action))
            .await
    }

    /// Renew: extends the subscription by the configured termination.
    pub async fn renew(&mut self) -> Result<()> {
        let body = format!(
            r#"<wsnt:Renew xmlns:wsnt="{}"><wsnt:TerminationTime>{}</wsnt:TerminationTime></wsnt:Renew>"#,
            ns::WSNT,
            duration_xsd(self.opts.termination)
        );
        let r = self
            .call(
                "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/RenewRequest",
                &body,
            )
            .await?;
        self.set_expiry(&r);
        Ok(())
    }

    async fn keep_alive(&mut self) -> Result<()> {
        let Some(expires) = self.expires else {
            return Ok(());
        };
        let margin =
            (self.opts.termination / 5).max(self.opts.pull_timeout + Duration::from_secs(2));
        if Instant::now() + margin < expires {
            return Ok(());
        }
        if self.renew_supported {
            match self.renew().await {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == ErrorKind::Protocol => {
                    log::info!("ONVIF events: Renew failed ({e}); subscribing again instead");
                    self.renew_supported = false;
                }
                Err(e) => return Err(e),
            }
        }
        let _ = self.unsubscribe_inner().await;
        self.subscribe().await
    }

    /// PullMessages: waits up to `pull_timeout` on the device for events and returns them
    /// (possibly none). Renews or re-subscribes as needed.
    pub async fn pull(&mut self) -> Result<Vec<OnvifEvent>> {
        self.keep_alive().await?;
        match self.pull_once().await {
            Ok(v) => Ok(v),
            Err(e) if matches!(e.kind(), ErrorKind::Protocol | ErrorKind::Connection) => {
                log::info!("ONVIF events: PullMessages failed ({e}); subscribing again");
                self.subscribe().await?;
                self.pull_once().await
            }
            Err(e) => Err(e),
        }
    }

    async fn pull_once(&self) -> Result<Vec<OnvifEvent>> {
        let body = format!(
            r#"<tev:PullMessages xmlns:tev="{}"><tev:Timeout>{}</tev:Timeout><tev:MessageLimit>{}</tev:MessageLimit></tev:PullMessages>"#,
            ns::EVENTS,
            duration_xsd(self.opts.pull_timeout),
            self.opts.message_limit
        );
        let r = self
            .call(
                "http://www.onvif.org/ver10/events/wsdl/PullPointSubscription/PullMessagesRequest",
                &body,
            )
            .await?;
        Ok(parse_notifications(&r))
    }

    async fn unsubscribe_inner(&self) -> Result<()> {
        let body = format!(r#"<wsnt:Unsubscribe xmlns:wsnt="{}"/>"#, ns::WSNT);
        self.call(
            "http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/UnsubscribeRequest",
            &body,
        )
        .await
        .map(|_| ())
    }

    /// Unsubscribe: tells the device to drop the subscription now.
    pub async fn unsubscribe(self) -> Result<()> {
        self.unsubscribe_inner().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onvif::soap::parse_response;
    use crate::onvif::xml::XmlLimits;

    #[test]
    fn motion_and_tamper_events() {
        let xml = r#"<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" xmlns:tev="http://www.onvif.org/ver10/events/wsdl" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tns1="http://www.onvif.org/ver10/topics"><SOAP-ENV:Body><tev:PullMessagesResponse><tev:CurrentTime>2024-05-01T10:00:00Z</tev:CurrentTime><tev:TerminationTime>2024-05-01T10:01:00Z</tev:TerminationTime>
<wsnt:NotificationMessage><wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">tns1:RuleEngine/CellMotionDetector/Motion</wsnt:Topic><wsnt:Message><tt:Message UtcTime="2024-05-01T09:59:58Z" PropertyOperation="Changed"><tt:Source><tt:SimpleItem Name="VideoSourceConfigurationToken" Value="VideoSourceToken"/><tt:SimpleItem Name="Rule" Value="MyMotionDetectorRule"/></tt:Source><tt:Data><tt:SimpleItem Name="IsMotion" Value="true"/></tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>
<wsnt:NotificationMessage><wsnt:Topic>tns1:VideoSource/tnsaxis:Tampering</wsnt:Topic><wsnt:Message><tt:Message UtcTime="2024-05-01T09:59:59.120Z"><tt:Data><tt:SimpleItem Name="State" Value="0"/></tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>
<wsnt:NotificationMessage><wsnt:Topic>tns1:Device/Trigger/DigitalInput</wsnt:Topic><wsnt:Message><tt:Message UtcTime="bad"><tt:Data><tt:SimpleItem Name="LogicalState" Value="true"/></tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>
</tev:PullMessagesResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>"#;
        let r = parse_response("t", 200, xml.as_bytes(), &XmlLimits::default()).unwrap();
        let ev = parse_notifications(&r);
        assert_eq!(ev.len(), 3);
        assert_eq!(ev[0].topic_path, "RuleEngine/CellMotionDetector/Motion");
        assert_eq!(ev[0].kind, EventKind::Motion(true));
        assert_eq!(ev[0].time.unwrap().to_string(), "2024-05-01T09:59:58Z");
        assert_eq!(ev[0].property_operation.as_deref(), Some("Changed"));
        assert_eq!(ev[0].source.len(), 2);
        assert_eq!(ev[0].data, vec![("IsMotion".into(), "true".into())]);
        assert_eq!(ev[1].kind, EventKind::Tamper(false));
        assert!(ev[1].time.is_some());
        assert_eq!(ev[2].kind, EventKind::Other);
        assert_eq!(ev[2].time, None);
    }
}

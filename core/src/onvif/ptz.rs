//! PTZ basics: presets and continuous moves, what an operator's joystick and preset buttons need.

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use super::device::OnvifDevice;
use super::error::{Error, Result};
use super::soap::{Transport, ns};
use super::xml::{Element, escape};

/// A stored PTZ position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PtzPreset {
    /// Preset token (what GotoPreset takes).
    pub token: String,
    /// Preset name.
    pub name: String,
}

/// A velocity in the device's generic space: each component in -1.0..=1.0.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PtzVelocity {
    /// Pan speed (positive = right).
    pub pan: f32,
    /// Tilt speed (positive = up).
    pub tilt: f32,
    /// Zoom speed (positive = in).
    pub zoom: f32,
}

/// The PTZ service of one device.
#[derive(Debug, Clone)]
pub struct Ptz {
    transport: Arc<Transport>,
    xaddr: Url,
}

impl OnvifDevice {
    /// The PTZ service, if the device has one.
    pub fn ptz(&self) -> Result<Ptz> {
        let xaddr = self.services.ptz.clone().ok_or_else(|| {
            Error::protocol(self.xaddr().as_str(), "the device lists no PTZ service")
        })?;
        Ok(Ptz {
            transport: self.transport.clone(),
            xaddr,
        })
    }
}

fn clamp(v: f32) -> Result<f32> {
    if !v.is_finite() {
        return Err(Error::InvalidInput("PTZ velocity must be finite".into()));
    }
    Ok(v.clamp(-1.0, 1.0))
}

pub(crate) fn parse_presets(r: &Element) -> Vec<PtzPreset> {
    r.children_named("Preset")
        .filter_map(|p| {
            Some(PtzPreset {
                token: p.attr("token")?.to_string(),
                name: p.text_at(&["Name"]).unwrap_or("").to_string(),
            })
        })
        .collect()
}

impl Ptz {
    async fn call(&self, op: &str, inner: &str) -> Result<Element> {
        let body = format!(
            r#"<tptz:{op} xmlns:tptz="{}" xmlns:tt="{}">{inner}</tptz:{op}>"#,
            ns::PTZ,
            ns::SCHEMA
        );
        self.transport
            .call(&self.xaddr, &format!("{}/{op}", ns::PTZ), &body, "")
            .await
    }

    /// GetPresets for a media profile.
    pub async fn presets(&self, profile_token: &str) -> Result<Vec<PtzPreset>> {
        let r = self
            .call(
                "GetPresets",
                &format!(
                    "<tptz:ProfileToken>{}</tptz:ProfileToken>",
                    escape(profile_token)
                ),
            )
            .await?;
        Ok(parse_presets(&r))
    }

    /// GotoPreset at the device's default speed.
    pub async fn goto_preset(&self, profile_token: &str, preset_token: &str) -> Result<()> {
        self.call(
            "GotoPreset",
            &format!(
                "<tptz:ProfileToken>{}</tptz:ProfileToken><tptz:PresetToken>{}</tptz:PresetToken>",
                escape(profile_token),
                escape(preset_token)
            ),
        )
        .await
        .map(|_| ())
    }

    /// ContinuousMove; the device stops by itself after `timeout` when given.
    pub async fn continuous_move(
        &self,
        profile_token: &str,
        velocity: PtzVelocity,
        timeout: Option<Duration>,
    ) -> Result<()> {
        let (pan, tilt, zoom) = (
            clamp(velocity.pan)?,
            clamp(velocity.tilt)?,
            clamp(velocity.zoom)?,
        );
        let timeout = timeout
            .map(|t| format!("<tptz:Timeout>PT{:.3}S</tptz:Timeout>", t.as_secs_f64()))
            .unwrap_or_default();
        self.call(
            "ContinuousMove",
            &format!(
                r#"<tptz:ProfileToken>{}</tptz:ProfileToken><tptz:Velocity><tt:PanTilt x="{pan}" y="{tilt}"/><tt:Zoom x="{zoom}"/></tptz:Velocity>{timeout}"#,
                escape(profile_token)
            ),
        )
        .await
        .map(|_| ())
    }

    /// Stop pan/tilt and/or zoom.
    pub async fn stop(&self, profile_token: &str, pan_tilt: bool, zoom: bool) -> Result<()> {
        self.call(
            "Stop",
            &format!(
                "<tptz:ProfileToken>{}</tptz:ProfileToken><tptz:PanTilt>{pan_tilt}</tptz:PanTilt><tptz:Zoom>{zoom}</tptz:Zoom>",
                escape(profile_token)
            ),
        )
        .await
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onvif::soap::parse_response;
    use crate::onvif::xml::XmlLimits;

    #[test]
    fn presets_parsed() {
        let xml = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><tptz:GetPresetsResponse xmlns:tptz="http://www.onvif.org/ver20/ptz/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema"><tptz:Preset token="1"><tt:Name>Gate</tt:Name><tt:PTZPosition><tt:PanTilt x="0.1" y="0.2"/></tt:PTZPosition></tptz:Preset><tptz:Preset token="2"/><tptz:Preset><tt:Name>no token</tt:Name></tptz:Preset></tptz:GetPresetsResponse></s:Body></s:Envelope>"#;
        let r = parse_response("t", 200, xml.as_bytes(), &XmlLimits::default()).unwrap();
        let p = parse_presets(&r);
        assert_eq!(
            p,
            vec![
                PtzPreset {
                    token: "1".into(),
                    name: "Gate".into()
                },
                PtzPreset {
                    token: "2".into(),
                    name: String::new()
                }
            ]
        );
        assert!(clamp(f32::NAN).is_err());
        assert_eq!(clamp(3.0).unwrap(), 1.0);
    }
}

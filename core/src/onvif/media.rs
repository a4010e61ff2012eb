//! Media profiles, stream and snapshot URIs, encoder configurations, snapshots.
//!
//! Media2 (ver20, Profile T, the only one that knows H.265 properly) is used when GetServices
//! lists it; otherwise Media (ver10, Profile S). Both answers are folded into one [`Profile`].

use bytes::Bytes;
use url::Url;

use super::device::OnvifDevice;
use super::error::{Error, ErrorKind, Result, redact_url};
use super::soap::ns;
use super::xml::{Element, escape};

/// Which media service answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaVersion {
    /// Media (ver10).
    Media1,
    /// Media2 (ver20).
    Media2,
}

/// One media profile with everything a recorder needs to start.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Profile {
    /// Profile token (what other calls take).
    pub token: String,
    /// Human name.
    pub name: String,
    /// Video encoding as the device names it (`H264`, `H265`, `JPEG`, ...).
    pub encoding: Option<String>,
    /// Width in pixels.
    pub width: Option<u32>,
    /// Height in pixels.
    pub height: Option<u32>,
    /// Frame-rate limit.
    pub fps: Option<f32>,
    /// Bitrate limit in kbit/s.
    pub bitrate_kbps: Option<u32>,
    /// RTSP stream URI (after host rewrite), when the device gave one.
    pub stream_uri: Option<String>,
    /// Snapshot URI (after host rewrite), when the device gave one.
    pub snapshot_uri: Option<String>,
    /// Video encoder configuration token.
    pub video_encoder_token: Option<String>,
    /// Video source token.
    pub video_source_token: Option<String>,
}

/// One video encoder configuration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VideoEncoderConfiguration {
    /// Token.
    pub token: String,
    /// Name.
    pub name: String,
    /// Encoding (`H264`, `H265`, `JPEG`, ...).
    pub encoding: Option<String>,
    /// Width in pixels.
    pub width: Option<u32>,
    /// Height in pixels.
    pub height: Option<u32>,
    /// Frame-rate limit.
    pub fps: Option<f32>,
    /// Bitrate limit in kbit/s.
    pub bitrate_kbps: Option<u32>,
    /// GOP length, when given.
    pub gov_length: Option<u32>,
}

fn num<T: std::str::FromStr>(el: &Element, path: &[&str]) -> Option<T> {
    el.text_at(path)?.parse().ok()
}

/// Reads a `VideoEncoderConfiguration` (Media1) or `VideoEncoder` (Media2) element.
pub(crate) fn parse_encoder(e: &Element) -> VideoEncoderConfiguration {
    VideoEncoderConfiguration {
        token: e.attr("token").unwrap_or("").to_string(),
        name: e.text_at(&["Name"]).unwrap_or("").to_string(),
        encoding: e.text_at(&["Encoding"]).map(str::to_owned),
        width: num(e, &["Resolution", "Width"]),
        height: num(e, &["Resolution", "Height"]),
        fps: num(e, &["RateControl", "FrameRateLimit"]),
        bitrate_kbps: num(e, &["RateControl", "BitrateLimit"]),
        gov_length: e
            .attr("GovLength")
            .and_then(|g| g.parse().ok())
            .or_else(|| num(e, &["H264", "GovLength"]))
            .or_else(|| num(e, &["GovLength"])),
    }
}

/// Reads GetProfiles from either media service.
pub(crate) fn parse_profiles(resp: &Element, version: MediaVersion) -> Vec<Profile> {
    resp.children_named("Profiles")
        .map(|p| {
            let (enc, src) = match version {
                MediaVersion::Media1 => (
                    p.child("VideoEncoderConfiguration"),
                    p.text_at(&["VideoSourceConfiguration", "SourceToken"]),
                ),
                MediaVersion::Media2 => {
                    let cfg = p.child("Configurations");
                    (
                        cfg.and_then(|c| c.child("VideoEncoder")),
                        cfg.and_then(|c| c.text_at(&["VideoSource", "SourceToken"])),
                    )
                }
            };
            let enc = enc.map(parse_encoder);
            Profile {
                token: p.attr("token").unwrap_or("").to_string(),
                name: p.text_at(&["Name"]).unwrap_or("").to_string(),
                encoding: enc.as_ref().and_then(|e| e.encoding.clone()),
                width: enc.as_ref().and_then(|e| e.width),
                height: enc.as_ref().and_then(|e| e.height),
                fps: enc.as_ref().and_then(|e| e.fps),
                bitrate_kbps: enc.as_ref().and_then(|e| e.bitrate_kbps),
                stream_uri: None,
                snapshot_uri: None,
                video_encoder_token: enc.map(|e| e.token).filter(|t| !t.is_empty()),
                video_source_token: src.map(str::to_owned),
            }
        })
        .filter(|p| !p.token.is_empty())
        .collect()
}

impl OnvifDevice {
    /// The media service in use and its address.
    pub fn media_service(&self) -> Option<(MediaVersion, &Url)> {
        let s = &self.services;
        match (&s.media2, &s.media) {
            (Some(m2), _) if self.options().prefer_media2 => Some((MediaVersion::Media2, m2)),
            (_, Some(m1)) => Some((MediaVersion::Media1, m1)),
            (Some(m2), None) => Some((MediaVersion::Media2, m2)),
            (None, None) => None,
        }
    }

    fn media_or_err(&self) -> Result<(MediaVersion, Url)> {
        self.media_service()
            .map(|(v, u)| (v, u.clone()))
            .ok_or_else(|| {
                Error::protocol(self.xaddr().as_str(), "the device lists no media service")
            })
    }

    async fn call_media(
        &self,
        version: MediaVersion,
        url: &Url,
        op: &str,
        inner: &str,
    ) -> Result<Element> {
        let (ns_uri, prefix) = match version {
            MediaVersion::Media1 => (ns::MEDIA, "trt"),
            MediaVersion::Media2 => (ns::MEDIA2, "tr2"),
        };
        let body = if inner.is_empty() {
            format!(
                r#"<{prefix}:{op} xmlns:{prefix}="{ns_uri}" xmlns:tt="{}"/>"#,
                ns::SCHEMA
            )
        } else {
            format!(
                r#"<{prefix}:{op} xmlns:{prefix}="{ns_uri}" xmlns:tt="{}">{inner}</{prefix}:{op}>"#,
                ns::SCHEMA
            )
        };
        self.transport
            .call(url, &format!("{ns_uri}/{op}"), &body, "")
            .await
    }

    /// Tries Media2 then falls back to Media1 when Media2 faults (some firmwares list Media2
    /// but implement it badly).
    async fn media_call_with_fallback(
        &self,
        op: &str,
        inner: impl Fn(MediaVersion) -> String,
    ) -> Result<(MediaVersion, Element)> {
        let (version, url) = self.media_or_err()?;
        match self.call_media(version, &url, op, &inner(version)).await {
            Ok(r) => Ok((version, r)),
            Err(e @ Error::Fault { .. }) if version == MediaVersion::Media2 => {
                match self.services.media.clone() {
                    Some(m1) => {
                        log::info!("ONVIF Media2 {op} failed ({e}); using Media1");
                        let r = self
                            .call_media(MediaVersion::Media1, &m1, op, &inner(MediaVersion::Media1))
                            .await?;
                        Ok((MediaVersion::Media1, r))
                    }
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// GetProfiles only (no URIs); see [`OnvifDevice::profiles`] for the full answer.
    pub async fn media_profiles(&self) -> Result<(MediaVersion, Vec<Profile>)> {
        let (version, r) = self
            .media_call_with_fallback("GetProfiles", |v| match v {
                MediaVersion::Media2 => "<tr2:Type>All</tr2:Type>".to_string(),
                MediaVersion::Media1 => String::new(),
            })
            .await?;
        Ok((version, parse_profiles(&r, version)))
    }

    /// Every profile with encoding, resolution, frame rate, bitrate, stream URI and snapshot
    /// URI. A URI the device will not give (fault) is left `None`; auth and connection errors
    /// fail the whole call.
    pub async fn profiles(&self) -> Result<Vec<Profile>> {
        let (version, mut profiles) = self.media_profiles().await?;
        // Profiles that only reference their encoder: fill in from the encoder list.
        if profiles
            .iter()
            .any(|p| p.encoding.is_none() && p.video_encoder_token.is_some())
            && let Ok(cfgs) = self.video_encoder_configurations_with(version).await
        {
            for p in profiles.iter_mut().filter(|p| p.encoding.is_none()) {
                if let Some(c) = cfgs
                    .iter()
                    .find(|c| Some(&c.token) == p.video_encoder_token.as_ref())
                {
                    p.encoding = c.encoding.clone();
                    p.width = p.width.or(c.width);
                    p.height = p.height.or(c.height);
                    p.fps = p.fps.or(c.fps);
                    p.bitrate_kbps = p.bitrate_kbps.or(c.bitrate_kbps);
                }
            }
        }
        for p in &mut profiles {
            p.stream_uri = soft(self.stream_uri(&p.token).await)?;
            p.snapshot_uri = soft(self.snapshot_uri(&p.token).await)?;
        }
        Ok(profiles)
    }

    /// GetStreamUri for RTSP (RTP over RTSP, unicast), host-rewritten.
    pub async fn stream_uri(&self, profile_token: &str) -> Result<String> {
        let t = escape(profile_token);
        let (_, r) = self
            .media_call_with_fallback("GetStreamUri", |v| match v {
                MediaVersion::Media2 => format!(
                    "<tr2:Protocol>RTSP</tr2:Protocol><tr2:ProfileToken>{t}</tr2:ProfileToken>"
                ),
                MediaVersion::Media1 => format!(
                    "<trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream><tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup><trt:ProfileToken>{t}</trt:ProfileToken>"
                ),
            })
            .await?;
        let uri = r.find("Uri").map(|u| u.trimmed()).filter(|u| !u.is_empty());
        let uri =
            uri.ok_or_else(|| Error::protocol(self.xaddr().as_str(), "GetStreamUri without Uri"))?;
        Ok(self.rewriter().media_uri(uri))
    }

    /// GetSnapshotUri, host-rewritten.
    pub async fn snapshot_uri(&self, profile_token: &str) -> Result<String> {
        let t = escape(profile_token);
        let (_, r) = self
            .media_call_with_fallback("GetSnapshotUri", |v| match v {
                MediaVersion::Media2 => format!("<tr2:ProfileToken>{t}</tr2:ProfileToken>"),
                MediaVersion::Media1 => format!("<trt:ProfileToken>{t}</trt:ProfileToken>"),
            })
            .await?;
        let uri = r.find("Uri").map(|u| u.trimmed()).filter(|u| !u.is_empty());
        let uri = uri
            .ok_or_else(|| Error::protocol(self.xaddr().as_str(), "GetSnapshotUri without Uri"))?;
        Ok(self.rewriter().media_uri(uri))
    }

    /// GetVideoEncoderConfigurations from the media service in use.
    pub async fn video_encoder_configurations(&self) -> Result<Vec<VideoEncoderConfiguration>> {
        let (version, _) = self.media_or_err()?;
        self.video_encoder_configurations_with(version).await
    }

    async fn video_encoder_configurations_with(
        &self,
        _preferred: MediaVersion,
    ) -> Result<Vec<VideoEncoderConfiguration>> {
        let (_, r) = self
            .media_call_with_fallback("GetVideoEncoderConfigurations", |_| String::new())
            .await?;
        Ok(r.children_named("Configurations")
            .map(parse_encoder)
            .collect())
    }

    /// Fetches a snapshot of `profile` (its snapshot URI, asked for if not known yet) with
    /// HTTP Digest/Basic as needed. Size-bounded by `ClientOptions::max_snapshot_bytes`.
    pub async fn snapshot(&self, profile: &Profile) -> Result<Bytes> {
        let uri = match &profile.snapshot_uri {
            Some(u) => u.clone(),
            None => self.snapshot_uri(&profile.token).await?,
        };
        self.snapshot_from_uri(&uri).await
    }

    /// Fetches a snapshot from a known URI; refuses HTML/XML error pages served with 200.
    pub async fn snapshot_from_uri(&self, uri: &str) -> Result<Bytes> {
        let url = Url::parse(uri).map_err(|e| {
            Error::InvalidInput(format!("bad snapshot URI {}: {e}", redact_url(uri)))
        })?;
        let (body, ct) = self
            .transport
            .get_bytes(&url, self.options().max_snapshot_bytes)
            .await?;
        let ct_l = ct.as_deref().unwrap_or("").to_ascii_lowercase();
        let is_jpeg = body.starts_with(&[0xFF, 0xD8]);
        // JPEG magic wins over a wrong Content-Type; otherwise it must say image/*.
        if !is_jpeg && !ct_l.starts_with("image/") {
            return Err(Error::protocol(
                uri,
                format!(
                    "snapshot is not an image (Content-Type {ct_l:?}, {} bytes)",
                    body.len()
                ),
            ));
        }
        Ok(body)
    }
}

/// Turns a fault into `None` (logged) and keeps every other error.
fn soft<T>(r: Result<T>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == ErrorKind::Protocol => {
            log::debug!("ONVIF: optional media call failed: {e}");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onvif::soap::parse_response;
    use crate::onvif::xml::XmlLimits;

    #[test]
    fn media1_profiles_hikvision_style() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:trt="http://www.onvif.org/ver10/media/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema">
<env:Body><trt:GetProfilesResponse>
<trt:Profiles fixed="true" token="Profile_1"><tt:Name>mainStream</tt:Name>
<tt:VideoSourceConfiguration token="VideoSourceToken"><tt:Name>VideoSourceConfig</tt:Name><tt:UseCount>2</tt:UseCount><tt:SourceToken>VideoSource_1</tt:SourceToken><tt:Bounds x="0" y="0" width="1920" height="1080"/></tt:VideoSourceConfiguration>
<tt:VideoEncoderConfiguration token="VideoEncoderToken_1"><tt:Name>VideoEncoder_1</tt:Name><tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>1920</tt:Width><tt:Height>1080</tt:Height></tt:Resolution><tt:Quality>3.000000</tt:Quality><tt:RateControl><tt:FrameRateLimit>25</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval><tt:BitrateLimit>4096</tt:BitrateLimit></tt:RateControl><tt:H264><tt:GovLength>50</tt:GovLength><tt:H264Profile>Main</tt:H264Profile></tt:H264></tt:VideoEncoderConfiguration>
</trt:Profiles>
<trt:Profiles fixed="true" token="Profile_2"><tt:Name>subStream</tt:Name></trt:Profiles>
</trt:GetProfilesResponse></env:Body></env:Envelope>"#;
        let r = parse_response("t", 200, xml.as_bytes(), &XmlLimits::default()).unwrap();
        let p = parse_profiles(&r, MediaVersion::Media1);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].token, "Profile_1");
        assert_eq!(p[0].name, "mainStream");
        assert_eq!(p[0].encoding.as_deref(), Some("H264"));
        assert_eq!((p[0].width, p[0].height), (Some(1920), Some(1080)));
        assert_eq!(p[0].fps, Some(25.0));
        assert_eq!(p[0].bitrate_kbps, Some(4096));
        assert_eq!(p[0].video_source_token.as_deref(), Some("VideoSource_1"));
        assert_eq!(p[1].encoding, None);
    }

    #[test]
    fn media2_profiles_with_default_namespace() {
        // Default namespaces instead of prefixes, as some firmwares send.
        let xml = r#"<Envelope xmlns="http://www.w3.org/2003/05/soap-envelope"><Body><GetProfilesResponse xmlns="http://www.onvif.org/ver20/media/wsdl">
<Profiles token="MainStream" fixed="true"><Name>Main</Name><Configurations>
<VideoSource token="VSC"><Name>x</Name><SourceToken>VS0</SourceToken></VideoSource>
<VideoEncoder token="VEC0" GovLength="30" Profile="Main"><Name>enc</Name><Encoding xmlns="http://www.onvif.org/ver10/schema">H265</Encoding><Resolution xmlns="http://www.onvif.org/ver10/schema"><Width>3840</Width><Height>2160</Height></Resolution><RateControl xmlns="http://www.onvif.org/ver10/schema" ConstantBitRate="false"><FrameRateLimit>12.5</FrameRateLimit><BitrateLimit>8192</BitrateLimit></RateControl></VideoEncoder>
</Configurations></Profiles></GetProfilesResponse></Body></Envelope>"#;
        let r = parse_response("t", 200, xml.as_bytes(), &XmlLimits::default()).unwrap();
        let p = parse_profiles(&r, MediaVersion::Media2);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].encoding.as_deref(), Some("H265"));
        assert_eq!((p[0].width, p[0].height), (Some(3840), Some(2160)));
        assert_eq!(p[0].fps, Some(12.5));
        assert_eq!(p[0].video_encoder_token.as_deref(), Some("VEC0"));
        assert_eq!(p[0].video_source_token.as_deref(), Some("VS0"));
    }
}

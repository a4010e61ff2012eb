//! Vendor playback URLs, for devices whose ONVIF Profile G is missing or broken.
//!
//! Most cheap recorders play their own archive over RTSP when the time window is put in
//! the URL, each brand its own way (research/profile_g.md §2). These are explicit
//! strategies, chosen by the user, never guessed: a wrong guess would play live video or
//! the wrong day, silently.
//!
//! - [`Vendor::Hikvision`] (HiWatch, HiLook, Ezviz):
//!   `/Streaming/tracks/<ch>01?starttime=YYYYMMDDTHHMMSSZ&endtime=…`, in UTC ("Z": current
//!   firmware converts with its configured zone).
//! - [`Vendor::Dahua`] (KBVision, Imou, Amcrest, CP Plus):
//!   `/cam/playback?channel=<n>&subtype=0&starttime=YYYY_MM_DD_HH_MM_SS&endtime=…`, in the
//!   **device's local time**, no zone: the caller says which
//!   ([`VendorPlayback::device_tz`]).
//! - [`Vendor::Uniview`]: `/c<n>/b<unix start>/e<unix end>/replay/`.
//!
//! What such a session lacks, and what [`super::fetch()`] does about it:
//! - no `Require: onvif-replay`, `Range: clock=` or `Rate-Control`: the PLAY is a plain
//!   `Range: npt=0.000-`, and the download runs at the device's speed (usually real time);
//! - no 0xABAC times: frames are timed from RTP, the first at the requested start (the
//!   manifest's `times_from` says `rtp`; a device that starts at the keyframe before the
//!   requested start shifts the clip by up to one GOP, which only 0xABAC could reveal);
//! - devices ignore `endtime` (Hikvision): the client stops at T2 itself, as for replay.

use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use url::Url;

use super::fetch::ReplayError;
use crate::export::index::show;
use crate::export::system_to_nanos;
use crate::rtsp::url::UrlError;

/// A brand's playback URL scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Vendor {
    /// Hikvision and its OEMs: `/Streaming/tracks/<ch>01?starttime=…Z&endtime=…Z`.
    Hikvision,
    /// Dahua and its OEMs: `/cam/playback?channel=…&starttime=Y_M_D_h_m_s…`, local time.
    Dahua,
    /// Uniview: `/c<ch>/b<unix>/e<unix>/replay/`.
    Uniview,
}

impl Vendor {
    /// Every scheme, for help texts.
    pub const ALL: [Vendor; 3] = [Vendor::Hikvision, Vendor::Dahua, Vendor::Uniview];

    /// The name used in options and manifests.
    pub fn name(self) -> &'static str {
        match self {
            Vendor::Hikvision => "hikvision",
            Vendor::Dahua => "dahua",
            Vendor::Uniview => "uniview",
        }
    }

    /// True when the URL's times are the device's local time (a time zone is needed).
    pub fn uses_local_time(self) -> bool {
        self == Vendor::Dahua
    }
}

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown vendor name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown vendor {0:?}: one of hikvision (hiwatch, hilook, ezviz), dahua (kbvision, imou, amcrest), uniview"
)]
pub struct UnknownVendor(pub String);

impl FromStr for Vendor {
    type Err = UnknownVendor;

    /// The brand or one of its OEM names, any case.
    fn from_str(s: &str) -> Result<Vendor, UnknownVendor> {
        match s.trim().to_ascii_lowercase().as_str() {
            "hikvision" | "hik" | "hiwatch" | "hilook" | "ezviz" => Ok(Vendor::Hikvision),
            "dahua" | "kbvision" | "imou" | "amcrest" | "cpplus" | "cp-plus" => Ok(Vendor::Dahua),
            "uniview" | "unv" => Ok(Vendor::Uniview),
            _ => Err(UnknownVendor(s.to_string())),
        }
    }
}

/// Which footage to ask a device for, by its vendor's URL scheme.
#[derive(Clone, Debug, PartialEq)]
pub struct VendorPlayback {
    /// The URL scheme.
    pub vendor: Vendor,
    /// Channel, from 1 (on hybrid DVRs IP channels often follow the analogue ones).
    pub channel: u32,
    /// The device's time zone, for vendors whose URLs carry local time (Dahua). Take it from
    /// the device (GetSystemDateAndTime's local minus UTC time) or from the user.
    pub device_tz: Option<TimeZone>,
}

impl VendorPlayback {
    /// Channel 1 of `vendor`, no time zone.
    pub fn new(vendor: Vendor) -> Self {
        VendorPlayback {
            vendor,
            channel: 1,
            device_tz: None,
        }
    }

    /// The playback URL for `[start, end)` on the device at `device_url` (`rtsp://` with
    /// host, optional port and credentials; its path and query are replaced).
    pub fn url(
        &self,
        device_url: &str,
        start: SystemTime,
        end: SystemTime,
    ) -> Result<String, ReplayError> {
        let range_err = || ReplayError::BadRange {
            start: show(system_to_nanos(start)),
            end: show(system_to_nanos(end)),
        };
        if start >= end {
            return Err(range_err());
        }
        let (t1, t2) = (
            Timestamp::try_from(start).map_err(|_| range_err())?,
            Timestamp::try_from(end).map_err(|_| range_err())?,
        );
        let mut url = Url::parse(device_url).map_err(|_| UrlError::Invalid)?;
        if url.scheme() != "rtsp" {
            return Err(UrlError::Scheme(url.scheme().to_string()).into());
        }
        if !url.has_host() {
            return Err(UrlError::NoHost.into());
        }
        let ch = self.channel.max(1);
        match self.vendor {
            Vendor::Hikvision => {
                let utc = |t: Timestamp| t.strftime("%Y%m%dT%H%M%SZ").to_string();
                url.set_path(&format!("/Streaming/tracks/{ch}01"));
                url.set_query(Some(&format!("starttime={}&endtime={}", utc(t1), utc(t2))));
            }
            Vendor::Dahua => {
                let tz = self
                    .device_tz
                    .as_ref()
                    .ok_or(ReplayError::NeedDeviceTimeZone(self.vendor))?;
                let local = |t: Timestamp| {
                    t.to_zoned(tz.clone())
                        .strftime("%Y_%m_%d_%H_%M_%S")
                        .to_string()
                };
                url.set_path("/cam/playback");
                url.set_query(Some(&format!(
                    "channel={ch}&subtype=0&starttime={}&endtime={}",
                    local(t1),
                    local(t2)
                )));
            }
            Vendor::Uniview => {
                // Whole seconds: the start rounds down and the end up, so T1..T2 is inside.
                let end_s = t2.as_second() + i64::from(t2.subsec_nanosecond() > 0);
                url.set_path(&format!("/c{ch}/b{}/e{end_s}/replay/", t1.as_second()));
                url.set_query(None);
            }
        }
        Ok(url.to_string())
    }
}

/// A fixed-offset zone from `+07:00`, `-0330`, `UTC`, `Z`, or an IANA name
/// (`Asia/Ho_Chi_Minh`) from the system's zone database.
pub fn parse_time_zone(s: &str) -> Option<TimeZone> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("utc") || s.eq_ignore_ascii_case("z") {
        return Some(TimeZone::UTC);
    }
    if let Some(rest) = s.strip_prefix(['+', '-']) {
        let sign = if s.starts_with('-') { -1 } else { 1 };
        let digits: String = rest.chars().filter(|c| *c != ':').collect();
        if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (h, m) = match digits.len() {
            1 | 2 => (digits.parse::<i32>().ok()?, 0),
            _ => {
                let (h, m) = digits.split_at(digits.len() - 2);
                (h.parse::<i32>().ok()?, m.parse::<i32>().ok()?)
            }
        };
        if h > 14 || m > 59 {
            return None;
        }
        let secs = sign * (h * 3600 + m * 60);
        return Some(TimeZone::fixed(jiff::tz::Offset::from_seconds(secs).ok()?));
    }
    TimeZone::get(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// 2026-11-25T10:00:00Z and a minute later.
    fn window() -> (SystemTime, SystemTime) {
        let t1 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_600_800);
        (t1, t1 + Duration::from_secs(60))
    }

    #[test]
    fn hikvision_tracks_url_in_utc() {
        let (t1, t2) = window();
        let p = VendorPlayback::new(Vendor::Hikvision);
        assert_eq!(
            p.url(
                "rtsp://admin:pw@10.0.0.5:554/Streaming/Channels/101",
                t1,
                t2
            )
            .unwrap(),
            "rtsp://admin:pw@10.0.0.5:554/Streaming/tracks/101?starttime=20261125T100000Z&endtime=20261125T100100Z"
        );
    }

    #[test]
    fn hikvision_channel_numbering_on_hybrid_dvrs() {
        // IP channel 1 of a 16-analogue DVR is track 1701.
        let (t1, t2) = window();
        let p = VendorPlayback {
            channel: 17,
            ..VendorPlayback::new(Vendor::Hikvision)
        };
        let u = p.url("rtsp://10.0.0.5", t1, t2).unwrap();
        assert!(
            u.starts_with("rtsp://10.0.0.5/Streaming/tracks/1701?"),
            "{u}"
        );
    }

    #[test]
    fn dahua_playback_in_device_local_time() {
        let (t1, t2) = window();
        let p = VendorPlayback {
            channel: 2,
            device_tz: parse_time_zone("+07:00"),
            ..VendorPlayback::new(Vendor::Dahua)
        };
        assert_eq!(
            p.url("rtsp://10.0.0.6:554/", t1, t2).unwrap(),
            "rtsp://10.0.0.6:554/cam/playback?channel=2&subtype=0&starttime=2026_11_25_17_00_00&endtime=2026_11_25_17_01_00"
        );
    }

    #[test]
    fn dahua_without_a_time_zone_is_refused() {
        let (t1, t2) = window();
        let e = VendorPlayback::new(Vendor::Dahua)
            .url("rtsp://10.0.0.6/", t1, t2)
            .unwrap_err();
        assert!(
            matches!(e, ReplayError::NeedDeviceTimeZone(Vendor::Dahua)),
            "{e}"
        );
        assert!(e.to_string().contains("local time"), "{e}");
    }

    #[test]
    fn uniview_unix_seconds_cover_the_range() {
        let (t1, _) = window();
        let p = VendorPlayback::new(Vendor::Uniview);
        let t2 = t1 + Duration::from_millis(60_500);
        assert_eq!(
            p.url("rtsp://10.0.0.7", t1, t2).unwrap(),
            "rtsp://10.0.0.7/c1/b1795600800/e1795600861/replay/"
        );
    }

    #[test]
    fn vendor_names_and_oems() {
        for (name, v) in [
            ("Hikvision", Vendor::Hikvision),
            ("ezviz", Vendor::Hikvision),
            ("KBVision", Vendor::Dahua),
            ("imou", Vendor::Dahua),
            ("unv", Vendor::Uniview),
        ] {
            assert_eq!(name.parse::<Vendor>(), Ok(v), "{name}");
        }
        assert!("reolink".parse::<Vendor>().is_err());
        for v in Vendor::ALL {
            assert_eq!(v.name().parse::<Vendor>(), Ok(v));
        }
    }

    #[test]
    fn bad_urls_and_ranges_are_typed_errors() {
        let (t1, t2) = window();
        let p = VendorPlayback::new(Vendor::Hikvision);
        assert!(matches!(
            p.url("http://10.0.0.5/", t1, t2),
            Err(ReplayError::Url(_))
        ));
        assert!(matches!(
            p.url("not a url", t1, t2),
            Err(ReplayError::Url(_))
        ));
        assert!(matches!(
            p.url("rtsp://10.0.0.5/", t2, t1),
            Err(ReplayError::BadRange { .. })
        ));
    }

    #[test]
    fn time_zone_forms() {
        let at = Timestamp::from_second(1_795_600_800).unwrap();
        let off = |s: &str| parse_time_zone(s).map(|tz| tz.to_offset(at).seconds());
        assert_eq!(off("+07:00"), Some(7 * 3600));
        assert_eq!(off("-0330"), Some(-(3 * 3600 + 1800)));
        assert_eq!(off("+5"), Some(5 * 3600));
        assert_eq!(off("UTC"), Some(0));
        assert_eq!(off("+25:00"), None);
        assert_eq!(off("+07:xx"), None);
        assert_eq!(off("Nowhere/Atlantis"), None);
    }
}

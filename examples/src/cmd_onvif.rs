//! The ONVIF commands: `discover` (WS-Discovery), `onvif` (device information and profiles),
//! `snapshot` (one JPEG) and `events` (PullPoint motion/tamper events).
//!
//! Every command prints one JSON document with `--json` (field names documented in README and
//! kept stable), readable text otherwise. Errors go through [`Login::scrub`] so a password can
//! never reach the terminal, whatever a lower layer put in a message.

use crate::cli::{DiscoverArgs, EventsArgs, OnvifArgs, OnvifLogin, SnapshotArgs};
use camwire::onvif::{
    self, ClientOptions, Credentials, DiscoveredDevice, DiscoveryOptions, EventKind, OnvifDevice,
    OnvifEvent, Profile, PullPointOptions,
};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The device address and account from `--xaddr`, `--user`, `--password` (or user info inside
/// the URL, taken out of it).
struct Login {
    xaddr: String,
    credentials: Option<Credentials>,
    tls: onvif::TlsVerify,
}

/// The certificate policy for an https:// XAddr: `--tls-pin SHA256` (the camera's own
/// self-signed certificate, as `openssl x509 -fingerprint -sha256` prints it), `--tls-ca
/// FILE` (a site CA, PEM or DER), `--tls-accept-any` (explicit opt-in), else public roots.
fn tls_policy(args: &OnvifLogin) -> Result<onvif::TlsVerify, String> {
    let ca = match &args.tls_ca {
        Some(path) => {
            Some(std::fs::read(path).map_err(|e| format!("--tls-ca {}: {e}", path.display()))?)
        }
        None => None,
    };
    onvif::TlsVerify::from_choice(args.tls_pin.as_deref(), ca.as_deref(), args.tls_accept_any)
        .map_err(|e| format!("{e} (--tls-pin, --tls-ca, --tls-accept-any)"))
}

impl Login {
    fn from_args(args: &OnvifLogin) -> Result<Login, String> {
        let (xaddr, from_url) = split_userinfo(&args.xaddr);
        let credentials = match (&args.user, &args.password) {
            (Some(u), p) => Some(Credentials::new(u, p.as_deref().unwrap_or(""))),
            (None, Some(_)) => return Err("--password needs --user".into()),
            (None, None) => from_url,
        };
        Ok(Login {
            xaddr,
            credentials,
            tls: tls_policy(args)?,
        })
    }

    /// Removes the password from a message (belt and braces: the library redacts too).
    fn scrub(&self, msg: String) -> String {
        match &self.credentials {
            Some(c) if !c.password.is_empty() => msg.replace(&c.password, "***"),
            _ => msg,
        }
    }

    async fn connect(&self) -> Result<OnvifDevice, String> {
        OnvifDevice::connect(
            &self.xaddr,
            self.credentials.clone(),
            ClientOptions {
                tls: self.tls.clone(),
                ..ClientOptions::default()
            },
        )
        .await
        .map_err(|e| self.scrub(e.to_string()))
    }
}

/// `http://user:pw@host/...` → (`http://host/...`, credentials); other input unchanged.
fn split_userinfo(raw: &str) -> (String, Option<Credentials>) {
    let Some(scheme_end) = raw.find("://") else {
        return (raw.to_string(), None);
    };
    let rest = raw.get(scheme_end + 3..).unwrap_or("");
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest.get(..authority_end).unwrap_or("");
    let Some(at) = authority.rfind('@') else {
        return (raw.to_string(), None);
    };
    let userinfo = authority.get(..at).unwrap_or("");
    let (user, pw) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let clean = format!(
        "{}{}",
        raw.get(..scheme_end + 3).unwrap_or(""),
        rest.get(at + 1..).unwrap_or("")
    );
    let dec = onvif::discovery::percent_decode;
    (clean, Some(Credentials::new(dec(user), dec(pw))))
}

fn print_json(v: &Value) -> Result<(), String> {
    outln!(
        "{}",
        serde_json::to_string_pretty(v).map_err(|e| e.to_string())?
    );
    Ok(())
}

/// One discovered device as JSON (the `devices[]` entries of `discover --json`).
pub fn device_json(d: &DiscoveredDevice) -> Value {
    json!({
        "endpoint_reference": d.endpoint_reference,
        "xaddr": d.xaddr,
        "xaddrs": d.xaddrs,
        "types": d.types,
        "scopes": d.scopes,
        "name": d.name,
        "hardware": d.hardware,
        "location": d.location,
        "profiles": d.profiles,
        "metadata_version": d.metadata_version,
        "source": d.source.to_string(),
    })
}

/// `camwire discover`.
pub async fn discover(args: &DiscoverArgs) -> Result<(), String> {
    let secs = args.timeout;
    if !(secs.is_finite() && secs > 0.0 && secs <= 600.0) {
        return Err("--timeout: seconds between 0 and 600".into());
    }
    let timeout = Duration::from_secs_f64(secs);
    let hosts = &args.host;
    let (method, devices) = if hosts.is_empty() {
        let opts = DiscoveryOptions {
            timeout,
            interfaces: args.interface.clone(),
            ..Default::default()
        };
        let found = onvif::discover(opts).await.map_err(|e| e.to_string())?;
        ("multicast", found)
    } else {
        if !args.interface.is_empty() {
            return Err("--interface applies to multicast discovery, not to --host".into());
        }
        let mut all: Vec<DiscoveredDevice> = Vec::new();
        for h in hosts {
            for d in onvif::probe_unicast(h, timeout)
                .await
                .map_err(|e| e.to_string())?
            {
                if !all
                    .iter()
                    .any(|x| x.endpoint_reference == d.endpoint_reference)
                {
                    all.push(d);
                }
            }
        }
        ("unicast", all)
    };
    if args.json {
        return print_json(&json!({
            "method": method,
            "timeout_secs": secs,
            "devices": devices.iter().map(device_json).collect::<Vec<_>>(),
        }));
    }
    if devices.is_empty() {
        outln!("no ONVIF device answered within {secs} s ({method} probe)");
        return Ok(());
    }
    outln!("{} device(s) answered ({method} probe):", devices.len());
    for d in &devices {
        outln!(
            "  {} {}",
            d.xaddr.as_deref().unwrap_or("(no XAddr)"),
            describe(d)
        );
        outln!("      endpoint {}  from {}", d.endpoint_reference, d.source);
    }
    Ok(())
}

/// `name (hardware) [profiles]` from a device's scopes.
pub fn describe(d: &DiscoveredDevice) -> String {
    let mut s = d.name.clone().unwrap_or_else(|| "unnamed".into());
    if let Some(h) = &d.hardware {
        s.push_str(&format!(" ({h})"));
    }
    if !d.profiles.is_empty() {
        s.push_str(&format!(" [Profile {}]", d.profiles.join(", ")));
    }
    s
}

/// One profile as JSON (the `profiles[]` entries of `onvif --json`).
pub fn profile_json(p: &Profile) -> Value {
    json!({
        "token": p.token,
        "name": p.name,
        "encoding": p.encoding,
        "width": p.width,
        "height": p.height,
        "fps": p.fps,
        "bitrate_kbps": p.bitrate_kbps,
        "stream_uri": p.stream_uri,
        "snapshot_uri": p.snapshot_uri,
        "video_encoder_token": p.video_encoder_token,
        "video_source_token": p.video_source_token,
    })
}

/// `H264 640x360 @ 25 fps, 297 kbit/s`.
pub fn profile_summary(p: &Profile) -> String {
    let mut s = p.encoding.clone().unwrap_or_else(|| "?".into());
    if let (Some(w), Some(h)) = (p.width, p.height) {
        s.push_str(&format!(" {w}x{h}"));
    }
    if let Some(f) = p.fps {
        s.push_str(&format!(" @ {f} fps"));
    }
    if let Some(b) = p.bitrate_kbps {
        s.push_str(&format!(", {b} kbit/s"));
    }
    s
}

/// `camwire onvif`.
pub async fn info(args: &OnvifArgs) -> Result<(), String> {
    let login = Login::from_args(&args.login)?;
    let dev = login.connect().await?;
    let scrub = |e: onvif::Error| login.scrub(e.to_string());
    let info = dev.device_information().await.map_err(scrub)?;
    let profiles = dev.profiles().await.map_err(scrub)?;
    let media = dev.media_service().map(|(v, _)| match v {
        onvif::MediaVersion::Media1 => "media1",
        onvif::MediaVersion::Media2 => "media2",
    });
    let s = dev.services();
    if args.json {
        return print_json(&json!({
            "xaddr": dev.xaddr().to_string(),
            "device": {
                "manufacturer": info.manufacturer,
                "model": info.model,
                "firmware_version": info.firmware_version,
                "serial_number": info.serial_number,
                "hardware_id": info.hardware_id,
            },
            "clock_offset_secs": dev.clock_offset().as_secs(),
            "media_service": media,
            "services": {
                "media": s.media.as_ref().map(ToString::to_string),
                "media2": s.media2.as_ref().map(ToString::to_string),
                "events": s.events.as_ref().map(ToString::to_string),
                "ptz": s.ptz.as_ref().map(ToString::to_string),
                "imaging": s.imaging.as_ref().map(ToString::to_string),
            },
            "profiles": profiles.iter().map(profile_json).collect::<Vec<_>>(),
        }));
    }
    outln!("device:       {}", dev.xaddr());
    outln!("manufacturer: {}", info.manufacturer);
    outln!("model:        {}", info.model);
    outln!("firmware:     {}", info.firmware_version);
    outln!("serial:       {}", info.serial_number);
    outln!("hardware id:  {}", info.hardware_id);
    let offset = dev.clock_offset().as_secs();
    if offset != 0 {
        outln!("clock:        camera is {offset:+} s off this machine");
    }
    outln!(
        "media:        {} ({} profile(s))",
        media.unwrap_or("none"),
        profiles.len()
    );
    for p in &profiles {
        outln!(
            "  profile {} \"{}\": {}",
            p.token,
            p.name,
            profile_summary(p)
        );
        outln!(
            "    stream:   {}",
            p.stream_uri.as_deref().unwrap_or("(not given)")
        );
        outln!(
            "    snapshot: {}",
            p.snapshot_uri.as_deref().unwrap_or("(not given)")
        );
    }
    Ok(())
}

/// `camwire snapshot`.
pub async fn snapshot(args: &SnapshotArgs) -> Result<(), String> {
    let out = args.out.display();
    let login = Login::from_args(&args.login)?;
    let dev = login.connect().await?;
    let scrub = |e: onvif::Error| login.scrub(e.to_string());
    let (_, profiles) = dev.media_profiles().await.map_err(scrub)?;
    let profile = match args.profile.as_deref() {
        Some(t) => profiles.iter().find(|p| p.token == t).ok_or_else(|| {
            let known: Vec<_> = profiles.iter().map(|p| p.token.as_str()).collect();
            format!("no profile {t:?} (the device has: {})", known.join(", "))
        })?,
        None => profiles
            .first()
            .ok_or("the device reports no media profile")?,
    };
    let jpeg = dev.snapshot(profile).await.map_err(scrub)?;
    std::fs::write(&args.out, &jpeg).map_err(|e| format!("{out}: {e}"))?;
    outln!(
        "saved a {}-byte snapshot of profile {} to {out}",
        jpeg.len(),
        profile.token
    );
    Ok(())
}

fn items_json(items: &[(String, String)]) -> Value {
    Value::Object(
        items
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// One event as JSON (the `events[]` entries of `events --json`).
pub fn event_json(e: &OnvifEvent) -> Value {
    let (kind, active) = match e.kind {
        EventKind::Motion(b) => ("motion", Some(b)),
        EventKind::Tamper(b) => ("tamper", Some(b)),
        EventKind::Other => ("other", None),
    };
    json!({
        "topic": e.topic,
        "topic_path": e.topic_path,
        "time": e.time.map(|t| t.to_string()),
        "property_operation": e.property_operation,
        "kind": kind,
        "active": active,
        "source": items_json(&e.source),
        "key": items_json(&e.key),
        "data": items_json(&e.data),
    })
}

fn event_line(e: &OnvifEvent) -> String {
    let what = match e.kind {
        EventKind::Motion(b) => format!("motion {}", if b { "started" } else { "stopped" }),
        EventKind::Tamper(b) => format!("tamper {}", if b { "started" } else { "stopped" }),
        EventKind::Other => "event".to_string(),
    };
    let data: Vec<String> = e.data.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "{}  {what:<15} {}  {}{}",
        e.time.map_or("(no time)".into(), |t| t.to_string()),
        e.topic_path,
        data.join(" "),
        e.property_operation
            .as_deref()
            .map_or(String::new(), |o| format!("  ({o})"))
    )
}

/// `camwire events`.
pub async fn events(args: &EventsArgs) -> Result<(), String> {
    let secs = args.duration;
    if !(secs.is_finite() && secs > 0.0) {
        return Err("--duration: a positive number of seconds".into());
    }
    let duration = Duration::from_secs_f64(secs.min(1e9));
    let json_out = args.json;
    let login = Login::from_args(&args.login)?;
    let dev = login.connect().await?;
    let scrub = |e: onvif::Error| login.scrub(e.to_string());
    let mut pp = dev
        .pull_point(PullPointOptions {
            pull_timeout: duration.min(Duration::from_secs(5)),
            ..Default::default()
        })
        .await
        .map_err(scrub)?;
    if !json_out {
        outln!(
            "subscribed at {}; listening for {secs} s (Ctrl-C stops)",
            pp.address()
        );
    }
    let deadline = Instant::now() + duration;
    let mut all = Vec::new();
    let mut failure = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        tokio::select! {
            r = tokio::time::timeout(left, pp.pull()) => match r {
                Err(_) => break,
                Ok(Ok(evs)) => {
                    for e in evs {
                        if !json_out {
                            outln!("{}", event_line(&e));
                        }
                        all.push(e);
                    }
                }
                Ok(Err(e)) => {
                    failure = Some(scrub(e));
                    break;
                }
            },
            _ = crate::shutdown_signal() => break,
        }
    }
    // Tell the device we are gone; it would drop the subscription at expiry anyway.
    if let Err(e) = pp.unsubscribe().await {
        log::debug!("unsubscribe failed: {}", login.scrub(e.to_string()));
    }
    if let Some(f) = failure {
        return Err(f);
    }
    if json_out {
        return print_json(&json!({
            "xaddr": dev.xaddr().to_string(),
            "duration_secs": secs,
            "events": all.iter().map(event_json).collect::<Vec<_>>(),
        }));
    }
    outln!("{} event(s)", all.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_taken_out_of_the_xaddr() {
        let (x, c) = split_userinfo("http://admin:p%40ss@10.0.0.5:8080/onvif/device_service");
        assert_eq!(x, "http://10.0.0.5:8080/onvif/device_service");
        let c = c.unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("admin", "p@ss")
        );
        let (x, c) = split_userinfo("10.0.0.5");
        assert_eq!(x, "10.0.0.5");
        assert!(c.is_none());
        let (x, c) = split_userinfo("http://h/p@q");
        assert_eq!(x, "http://h/p@q");
        assert!(c.is_none());
    }
}

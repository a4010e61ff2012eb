//! `camwire fetch --url RTSP --vendor NAME`: footage off devices without a working Profile G,
//! through their vendors' own playback URLs (issue 13 item 5).
//!
//! The peer is GStreamer's RTSP server (`core/tests/support/gst_onvif_server.py`) with
//! vendor mounts at the exact paths each vendor uses, over a 20 s recording dated
//! 2026-11-25T10:00:00Z (25 fps, a keyframe every 2 s). A mount reads the window from the
//! URL as that vendor's device does (Hikvision UTC `starttime=…Z`, Dahua local time,
//! Uniview Unix seconds in the path), plays from the keyframe at or before its start in real
//! time, past its end (as Hikvision does), and sends no 0xABAC extension. So a wrong path,
//! a wrong time format or a wrong time zone gives a 404 or the wrong frames.
//!
//! Each fetch asks for 10:00:06..10:00:10 (a keyframe at 10:00:06): the clip's decoded
//! frames must be exactly the source's frames 150..250, the manifest must say
//! `vendor-playback`, the vendor, and `times_from: rtp`, and `verify` must pass.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use support::{assert_decodes_cleanly, assert_ok, camwire, clip, framemd5, tmpdir};

/// The GStreamer server with vendor mounts; its RTSP base and its SOAP device address.
struct Server {
    child: Child,
    base: String,
    xaddr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(mp4: &Path, extra: &[&str]) -> Server {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/support/gst_onvif_server.py");
    let mut child = Command::new("/usr/bin/python3")
        .arg(script)
        .arg(mp4)
        .args(["--start", "2026-11-25T10:00:00Z"])
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the GStreamer server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read READY");
    let urls: Vec<&str> = line
        .strip_prefix("READY ")
        .unwrap_or_else(|| panic!("server did not start: {line:?}"))
        .split_whitespace()
        .collect();
    // rtsp://127.0.0.1:PORT/recording/1 -> rtsp://127.0.0.1:PORT
    let base = urls[0]
        .rsplit_once("/recording/")
        .map(|(b, _)| b.to_string())
        .expect("replay url");
    Server {
        child,
        base,
        xaddr: urls[2].to_string(),
    }
}

/// Fetches 10:00:06..10:00:10 with `extra` options into `dir/NAME.mp4`, checks the frames,
/// the manifest and verify, and returns the manifest.
fn fetch_and_check(dir: &Path, name: &str, vendor_args: &[&str]) -> serde_json::Value {
    let mp4 = clip(320, 240, 20, 300);
    let source = framemd5(std::slice::from_ref(&mp4));
    let out = dir.join(format!("{name}.mp4"));
    let mut args = vec![
        "fetch",
        "--start",
        "2026-11-25T10:00:06Z",
        "--end",
        "2026-11-25T10:00:10Z",
        "--out",
        out.to_str().expect("utf-8 path"),
    ];
    args.extend(vendor_args);
    let o = camwire(&args);
    assert_ok(&o, &format!("camwire fetch --vendor ({name})"));
    let stdout = String::from_utf8_lossy(&o.stdout);
    eprintln!("{stdout}");
    assert!(
        stdout.contains("fetched 2026-11-25T10:00:06Z .. 2026-11-25T10:00:10Z (100 frames"),
        "{stdout}"
    );
    assert!(stdout.contains("times from rtp"), "{stdout}");
    assert_decodes_cleanly(&out);
    let got = framemd5(std::slice::from_ref(&out));
    assert_eq!(got.len(), 100);
    assert!(
        got == source[150..250],
        "decoded frames differ from the source's"
    );
    let o = camwire(&["verify", out.to_str().expect("utf-8 path")]);
    assert_ok(&o, "camwire verify of the vendor clip");
    let manifest =
        std::fs::read_to_string(dir.join(format!("{name}.mp4.manifest.json"))).expect("manifest");
    assert!(!manifest.contains("pw-n0t-printed"));
    let m: serde_json::Value = serde_json::from_str(&manifest).expect("json");
    assert_eq!(m["origin"]["kind"], "vendor-playback");
    assert_eq!(m["origin"]["times_from"], "rtp");
    assert_eq!(m["origin"]["frames_with_extension"], 0);
    assert_eq!(m["actual"]["start"], "2026-11-25T10:00:06Z");
    m
}

#[test]
fn hikvision_tracks_url_in_utc() {
    let server = start_server(
        &clip(320, 240, 20, 300),
        &["--vendor-mount", "/Streaming/tracks/101"],
    );
    let dir = tmpdir("fetch-vendor-hik");
    let url = server
        .base
        .replace("rtsp://", "rtsp://admin:pw-n0t-printed@");
    let m = fetch_and_check(&dir, "hik", &["--url", &url, "--vendor", "hikvision"]);
    assert_eq!(m["origin"]["vendor"], "hikvision");
    assert_eq!(
        m["origin"]["uri"],
        format!(
            "{}/Streaming/tracks/101?starttime=20261125T100006Z&endtime=20261125T100010Z",
            server.base
        )
    );
}

#[test]
fn dahua_playback_in_the_devices_local_time_read_over_onvif() {
    // The device runs on UTC+7: its URL times are local, and only its GetSystemDateAndTime
    // says so (LocalDateTime 7 h after UTCDateTime).
    let server = start_server(
        &clip(320, 240, 20, 300),
        &["--vendor-mount", "/cam/playback", "--utc-offset", "25200"],
    );
    let dir = tmpdir("fetch-vendor-dahua");
    let m = fetch_and_check(
        &dir,
        "dahua",
        &[
            "--url",
            &server.base,
            "--vendor",
            "kbvision",
            "--xaddr",
            &server.xaddr,
        ],
    );
    assert_eq!(m["origin"]["vendor"], "dahua");
    assert_eq!(
        m["origin"]["uri"],
        format!(
            "{}/cam/playback?channel=1&subtype=0&starttime=2026_11_25_17_00_06&endtime=2026_11_25_17_00_10",
            server.base
        )
    );

    // Without a time zone the URL cannot be built: a clear error, no file.
    let out = dir.join("no-tz.mp4");
    let o = camwire(&[
        "fetch",
        "--url",
        &server.base,
        "--vendor",
        "dahua",
        "--start",
        "2026-11-25T10:00:06Z",
        "--end",
        "2026-11-25T10:00:10Z",
        "--out",
        out.to_str().expect("utf-8 path"),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("device's local time"), "{stderr}");
    assert!(!out.exists());
}

#[test]
fn uniview_replay_path_in_unix_seconds() {
    // 10:00:06Z and 10:00:10Z.
    let path = "/c1/b1795600806/e1795600810/replay/";
    // gst-rtsp-server drops the trailing slash of a request path before matching mounts.
    let mount = path.trim_end_matches('/');
    let server = start_server(&clip(320, 240, 20, 300), &["--vendor-mount", mount]);
    let dir = tmpdir("fetch-vendor-unv");
    let m = fetch_and_check(&dir, "unv", &["--url", &server.base, "--vendor", "uniview"]);
    assert_eq!(m["origin"]["vendor"], "uniview");
    assert_eq!(m["origin"]["uri"], format!("{}{path}", server.base));
}

//! `camwire discover`, `onvif`, `snapshot`, `events` and the demo's discovery steps, run as
//! the built binary against the simulated camera's ONVIF face started in this process.

mod support;
use camwire::sim::{SimCamera, SimOnvifOptions, SimOptions};
use std::process::{Command, Output};
use std::time::Duration;
use support::*;

const USER: &str = "admin";
const PASS: &str = "Cam-Pa55-word";

fn start(rt: &tokio::runtime::Runtime, auth: bool, onvif: SimOnvifOptions) -> SimCamera {
    rt.block_on(SimCamera::start(SimOptions {
        credentials: auth.then(|| (USER.to_string(), PASS.to_string())),
        onvif: Some(SimOnvifOptions {
            multicast: None,
            ..onvif
        }),
        ..Default::default()
    }))
    .unwrap()
}

fn json(out: &Output, what: &str) -> serde_json::Value {
    assert_ok(out, what);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{what}: not one JSON document ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn all_output(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn discover_by_unicast_probe_finds_the_sim() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = start(&rt, false, SimOnvifOptions::default());
    let host = sim.discovery_addr().unwrap().to_string();
    let v = json(
        &camwire(&["discover", "--host", &host, "--timeout", "1", "--json"]),
        "camwire discover --json",
    );
    assert_eq!(v["method"], "unicast");
    let devices = v["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 1, "{v}");
    let d = &devices[0];
    assert_eq!(d["xaddr"], sim.xaddr().unwrap());
    assert_eq!(d["endpoint_reference"], sim.endpoint_reference().unwrap());
    assert_eq!(d["name"], "camwire-sim");
    assert_eq!(d["hardware"], "SimCamera");
    assert_eq!(d["source"], host);
    assert!(
        d["types"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "dn:NetworkVideoTransmitter")
    );

    let r = camwire(&["discover", "--host", &host, "--timeout", "1"]);
    assert_ok(&r, "camwire discover");
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(
        text.contains(&sim.xaddr().unwrap()) && text.contains("camwire-sim"),
        "{text}"
    );
    rt.block_on(sim.shutdown());
}

#[test]
fn onvif_lists_the_profile_with_the_sims_stream_uri() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = start(&rt, true, SimOnvifOptions::default());
    let xaddr = sim.xaddr().unwrap();
    let v = json(
        &camwire(&[
            "onvif",
            "--xaddr",
            &xaddr,
            "--user",
            USER,
            "--password",
            PASS,
            "--json",
        ]),
        "camwire onvif --json",
    );
    assert_eq!(v["xaddr"], xaddr);
    assert_eq!(v["device"]["manufacturer"], "camwire");
    assert_eq!(v["device"]["model"], "SimCamera");
    assert_eq!(v["media_service"], "media1");
    let profiles = v["profiles"].as_array().unwrap();
    assert_eq!(profiles.len(), 1, "{v}");
    let p = &profiles[0];
    assert_eq!(p["token"], "main");
    assert_eq!(p["encoding"], "H264");
    assert_eq!(
        (p["width"].as_u64(), p["height"].as_u64()),
        (Some(640), Some(360))
    );
    assert_eq!(p["fps"], 25.0);
    assert_eq!(p["stream_uri"], sim.rtsp_url());
    assert_eq!(p["snapshot_uri"], sim.snapshot_url().unwrap());

    // Text form, with the credentials inside the URL this time (never printed back).
    let with_userinfo = xaddr.replace("http://", &format!("http://{USER}:{PASS}@"));
    let r = camwire(&["onvif", "--xaddr", &with_userinfo]);
    assert_ok(&r, "camwire onvif");
    let text = all_output(&r);
    assert!(
        text.contains(&sim.rtsp_url()) && text.contains("SimCamera"),
        "{text}"
    );
    assert!(!text.contains(PASS), "password leaked: {text}");
    rt.block_on(sim.shutdown());
}

#[test]
fn snapshot_writes_a_jpeg_ffprobe_reads() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = start(&rt, true, SimOnvifOptions::default());
    let out = tmpdir("onvif-snapshot").join("snap.jpg");
    let r = camwire(&[
        "snapshot",
        "--xaddr",
        &sim.xaddr().unwrap(),
        "--user",
        USER,
        "--password",
        PASS,
        "--profile",
        "main",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_ok(&r, "camwire snapshot");
    let bytes = std::fs::read(&out).unwrap();
    assert!(bytes.starts_with(&[0xFF, 0xD8]));
    let ff = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,width,height",
            "-of",
            "csv=p=0",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&ff.stdout).trim(), "mjpeg,640,360");

    let r = camwire(&[
        "snapshot",
        "--xaddr",
        &sim.xaddr().unwrap(),
        "--user",
        USER,
        "--password",
        PASS,
        "--profile",
        "nope",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!r.status.success());
    assert!(
        all_output(&r).contains("no profile \"nope\""),
        "{}",
        all_output(&r)
    );
    rt.block_on(sim.shutdown());
}

#[test]
fn wrong_password_fails_with_an_auth_message_and_no_password() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = start(&rt, true, SimOnvifOptions::default());
    let xaddr = sim.xaddr().unwrap();
    let wrong = "Wr0ng-Secret";
    let out = tmpdir("onvif-wrong").join("snap.jpg");
    let out = out.to_str().unwrap();
    let runs: Vec<Vec<&str>> = vec![
        vec![
            "onvif",
            "--xaddr",
            &xaddr,
            "--user",
            USER,
            "--password",
            wrong,
            "--json",
        ],
        vec!["onvif", "--xaddr", &xaddr],
        vec![
            "snapshot",
            "--xaddr",
            &xaddr,
            "--user",
            USER,
            "--password",
            wrong,
            "--out",
            out,
        ],
        vec![
            "events",
            "--xaddr",
            &xaddr,
            "--user",
            USER,
            "--password",
            wrong,
            "--duration",
            "1",
        ],
    ];
    for args in &runs {
        let r = camwire(args);
        assert!(!r.status.success(), "{args:?} succeeded");
        let text = all_output(&r);
        assert!(text.contains("authentication failed"), "{args:?}: {text}");
        assert!(
            !text.contains(wrong) && !text.contains(PASS),
            "{args:?}: password leaked: {text}"
        );
    }
    let bad_url = xaddr.replace("http://", &format!("http://{USER}:{wrong}@"));
    let r = camwire(&["onvif", "--xaddr", &bad_url]);
    assert!(!r.status.success());
    let text = all_output(&r);
    assert!(
        text.contains("authentication failed") && !text.contains(wrong),
        "{text}"
    );
    rt.block_on(sim.shutdown());
}

#[test]
fn events_prints_the_motion_detector() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = start(
        &rt,
        true,
        SimOnvifOptions {
            motion_period: Duration::from_millis(400),
            ..Default::default()
        },
    );
    let xaddr = sim.xaddr().unwrap();
    let v = json(
        &camwire(&[
            "events",
            "--xaddr",
            &xaddr,
            "--user",
            USER,
            "--password",
            PASS,
            "--duration",
            "1.5",
            "--json",
        ]),
        "camwire events --json",
    );
    let evs = v["events"].as_array().unwrap();
    assert!(evs.len() >= 3, "{v}");
    assert_eq!(evs[0]["kind"], "motion");
    assert_eq!(evs[0]["active"], false);
    assert_eq!(evs[0]["property_operation"], "Initialized");
    assert_eq!(evs[1]["active"], true);
    assert_eq!(evs[1]["data"]["IsMotion"], "true");
    assert_eq!(evs[0]["topic_path"], "RuleEngine/CellMotionDetector/Motion");
    assert!(evs[0]["time"].as_str().is_some_and(|t| t.ends_with('Z')));

    let r = camwire(&[
        "events",
        "--xaddr",
        &xaddr,
        "--user",
        USER,
        "--password",
        PASS,
        "--duration",
        "1",
    ]);
    assert_ok(&r, "camwire events");
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(
        text.contains("motion stopped") && text.contains("motion started"),
        "{text}"
    );
    rt.block_on(sim.shutdown());
}

#[test]
fn demo_discovers_the_sim_and_records_the_get_stream_uri_address() {
    let out = tmpdir("onvif-demo");
    let r = camwire(&["demo", "--out", out.to_str().unwrap(), "--duration", "2"]);
    assert_ok(&r, "camwire demo");
    let text = String::from_utf8_lossy(&r.stdout);
    let line = |needle: &str| {
        text.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{text}"))
            .to_string()
    };
    let found = line("discovered by");
    assert!(
        found.contains("camwire-sim") && found.contains("/onvif/device_service"),
        "{found}"
    );
    let uri_line = line("GetStreamUri -> ");
    let uri = uri_line
        .split("GetStreamUri -> ")
        .nth(1)
        .unwrap()
        .trim()
        .to_string();
    assert!(
        uri.starts_with("rtsp://127.0.0.1:") && uri.ends_with("/stream"),
        "{uri}"
    );
    // The RTSP port announced on line 1 is the one GetStreamUri pointed at.
    let started = line("simulated camera");
    let port = started
        .split("RTSP on port ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap();
    assert!(uri.contains(&format!(":{port}/")), "{started} / {uri}");
    assert!(text.contains("recorded"), "{text}");
    assert!(!mp4_files(&out).is_empty());
}

/// `camwire onvif` with an https:// XAddr: the sim behind an OpenSSL TLS proxy (core's
/// `tests/support/tls_proxy.py`) with a self-signed certificate made by the openssl CLI
/// (`make_test_certs.sh`).
/// Public roots refuse it; `--tls-pin` with openssl's fingerprint and `--tls-accept-any`
/// let it through.
#[test]
fn onvif_over_https_with_a_pinned_self_signed_certificate() {
    use std::io::BufRead;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = start(&rt, false, SimOnvifOptions::default());
    let dir = tmpdir("cli-https");
    let support = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/support");
    let made = Command::new("bash")
        .arg(support.join("make_test_certs.sh"))
        .arg(&dir)
        .output()
        .expect("bash");
    assert_ok(&made, "make_test_certs.sh");
    let fp = Command::new("openssl")
        .args(["x509", "-in", "ss.pem", "-noout", "-fingerprint", "-sha256"])
        .current_dir(&dir)
        .output()
        .expect("openssl CLI");
    assert_ok(&fp, "openssl x509 -fingerprint");
    let fp = String::from_utf8_lossy(&fp.stdout);
    let fp = fp.trim().rsplit('=').next().unwrap().to_string();
    let upstream = url::Url::parse(&sim.xaddr().unwrap()).unwrap();
    let mut proxy = Command::new("/usr/bin/python3")
        .arg(support.join("tls_proxy.py"))
        .args([dir.join("ss.pem"), dir.join("ss.key")])
        .arg("127.0.0.2")
        .arg(format!("127.0.0.1:{}", upstream.port().unwrap()))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    std::io::BufReader::new(proxy.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .strip_prefix("READY ")
        .expect("proxy ready")
        .to_string();
    let xaddr = format!("https://127.0.0.2:{port}/onvif/device_service");

    let refused = camwire(&["onvif", "--xaddr", &xaddr]);
    assert!(!refused.status.success());
    assert!(
        all_output(&refused).contains("TLS"),
        "{}",
        all_output(&refused)
    );

    for policy in [vec!["--tls-pin", fp.as_str()], vec!["--tls-accept-any"]] {
        let mut args = vec!["onvif", "--xaddr", &xaddr, "--json"];
        args.extend(policy.iter().copied());
        let v = json(&camwire(&args), "camwire onvif over https");
        assert_eq!(v["xaddr"], xaddr, "{v}");
        assert_eq!(v["profiles"].as_array().unwrap().len(), 1, "{v}");
    }
    let bad = camwire(&["onvif", "--xaddr", &xaddr, "--tls-pin", "ab:cd"]);
    assert!(
        all_output(&bad).contains("--tls-pin"),
        "{}",
        all_output(&bad)
    );
    let _ = proxy.kill();
    let _ = proxy.wait();
}

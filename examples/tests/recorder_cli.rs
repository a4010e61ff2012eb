//! `camwire record --config FILE`: cameras and defaults from TOML, credentials never printed,
//! typos refused.

mod support;
use camwire::sim::{SimCamera, SimOptions};
use support::*;

#[test]
fn config_file_records_every_camera_and_refuses_unknown_keys() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let open = rt
        .block_on(SimCamera::start(SimOptions::default()))
        .unwrap();
    let locked = rt
        .block_on(SimCamera::start(SimOptions {
            credentials: Some(("admin".into(), "T0ml-secret".into())),
            ..Default::default()
        }))
        .unwrap();
    let dir = tmpdir("record-config");
    let root = dir.join("rec");
    let cfg = dir.join("cameras.toml");
    std::fs::write(
        &cfg,
        format!(
            "out = {root:?}\nsegment_secs = 2\nfsync = \"never\"\nretain_days = 30\n\
             [[camera]]\nid = \"open\"\nurl = \"{}\"\n\
             [[camera]]\nid = \"locked\"\nurl = \"{}\"\nuser = \"admin\"\n\
             password = \"T0ml-secret\"\ntransport = \"tcp\"\nretain_gb = 1\n",
            open.rtsp_url(),
            locked.rtsp_url()
        ),
    )
    .unwrap();
    let r = camwire(&[
        "record",
        "--config",
        cfg.to_str().unwrap(),
        "--duration",
        "5",
        "-v",
    ]);
    assert_ok(&r, "camwire record --config");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&r.stdout),
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(!text.contains("T0ml-secret"), "password leaked: {text}");
    for cam in ["open", "locked"] {
        let files = mp4_files(&root.join(cam));
        assert!(files.len() >= 2, "{cam}: {files:?}");
        for f in &files {
            assert_ffprobe_clean(f);
        }
    }

    std::fs::write(
        &cfg,
        "[[camera]]\nid = \"x\"\nurl = \"rtsp://h/\"\npasword = \"typo\"\n",
    )
    .unwrap();
    let r = camwire(&[
        "record",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        "/tmp/x",
    ]);
    assert!(!r.status.success());
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("pasword"),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    rt.block_on(open.shutdown());
    rt.block_on(locked.shutdown());
}

/// Back-fill settings are checked before anything records: a Dahua playback back-fill needs
/// the device's time zone (its URLs carry local time), an unknown vendor is named, and the
/// camera is named in the error.
#[test]
fn backfill_settings_in_the_config_are_checked() {
    let dir = tmpdir("record-config-backfill");
    let cfg = dir.join("cameras.toml");
    let out = dir.join("rec");
    for (entry, said) in [
        ("backfill_vendor = \"dahua\"", "needs device_tz"),
        ("backfill_vendor = \"reolink\"", "unknown vendor"),
        (
            "backfill_vendor = \"dahua\"\ndevice_tz = \"+25:00\"",
            "device_tz \"+25:00\"",
        ),
    ] {
        std::fs::write(
            &cfg,
            format!(
                "backfill = true\n[[camera]]\nid = \"gate\"\nurl = \"rtsp://192.0.2.7/\"\n{entry}\n"
            ),
        )
        .unwrap();
        let r = camwire(&[
            "record",
            "--config",
            cfg.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--duration",
            "1",
        ]);
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert!(!r.status.success(), "{entry}: {stderr}");
        assert!(
            stderr.contains("camera \"gate\"") && stderr.contains(said),
            "{entry}: {stderr}"
        );
        assert!(!out.join("gate").exists(), "{entry}: recorded anyway");
    }
}

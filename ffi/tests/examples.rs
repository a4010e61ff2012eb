//! examples/c/*.c, the way the README's C quick start uses them: install the library with
//! `make -C ffi install` into a scratch prefix, compile each example with
//! `cc ... $(pkg-config --cflags --libs camwire)` (-Wall -Wextra -Werror, as C11 and C++17),
//! then run record.c against the sim camera, export.c on what it recorded, and discover.c
//! against the in-process ONVIF device.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use support::*;

/// Installs into `prefix` from the target dir this test was built in (no rebuild).
fn install(prefix: &Path) {
    let lib = lib_dir();
    let profile = lib.file_name().unwrap().to_str().unwrap().to_string();
    let out = Command::new("make")
        .arg("-C")
        .arg(root().join("ffi"))
        .arg("install")
        .arg(format!("PREFIX={}", prefix.display()))
        .arg(format!("PROFILE={profile}"))
        .arg(format!("TARGET_DIR={}", lib.parent().unwrap().display()))
        .arg("NO_BUILD=1")
        .output()
        .expect("make");
    assert_ok(&out, "make -C ffi install");
}

fn pkg_config(prefix: &Path) -> Vec<String> {
    let out = Command::new("pkg-config")
        .args(["--cflags", "--libs", "camwire"])
        .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
        .output()
        .expect("pkg-config");
    assert_ok(&out, "pkg-config --cflags --libs camwire");
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn build_example(name: &str, dir: &Path, flags: &[String], prefix: &Path, cpp: bool) -> PathBuf {
    let src = root().join(format!("examples/c/{name}.c"));
    let lines = std::fs::read_to_string(&src).unwrap().lines().count();
    assert!(lines < 100, "{name}.c has {lines} lines (the limit is 99)");
    let exe = dir.join(if cpp {
        format!("{name}-cpp")
    } else {
        name.to_string()
    });
    let mut c = Command::new(if cpp { "g++" } else { "cc" });
    c.args(["-Wall", "-Wextra", "-Werror"]);
    if cpp {
        c.args(["-std=c++17", "-x", "c++"]);
    } else {
        c.arg("-std=c11");
    }
    c.arg(&src);
    if cpp {
        c.args(["-x", "none"]);
    }
    c.args(flags)
        .arg(format!("-Wl,-rpath,{}", prefix.join("lib").display()))
        .arg("-o")
        .arg(&exe);
    assert_ok(&c.output().expect("cc"), &format!("compiling {name}.c"));
    exe
}

#[test]
fn examples_build_with_pkg_config_and_run() {
    let dir = tmpdir("examples");
    let prefix = dir.join("prefix");
    install(&prefix);
    // The usual links: libcamwire.so -> libcamwire.so.0 (the SONAME) -> the versioned file.
    let libdir = prefix.join("lib");
    let so0 = std::fs::read_link(libdir.join("libcamwire.so.0")).expect("libcamwire.so.0 link");
    assert!(
        so0.to_string_lossy().starts_with("libcamwire.so.0."),
        "{so0:?}"
    );
    assert!(libdir.join(&so0).is_file());
    assert_eq!(
        std::fs::read_link(libdir.join("libcamwire.so")).expect("libcamwire.so link"),
        std::path::Path::new("libcamwire.so.0")
    );
    let flags = pkg_config(&prefix);
    let mut exes = std::collections::HashMap::new();
    for name in ["discover", "record", "export"] {
        build_example(name, &dir, &flags, &prefix, true);
        exes.insert(name, build_example(name, &dir, &flags, &prefix, false));
    }

    let rec = dir.join("recordings");
    let out = Command::new(&exes["record"])
        .arg("--sim")
        .arg(&rec)
        .arg("4")
        .output()
        .unwrap();
    assert_ok(&out, "record --sim");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("[cam1] connected"), "{text}");
    assert!(text.contains("[cam1] file closed: "), "{text}");
    assert!(text.contains("[cam1] stopped"), "{text}");

    let clip = dir.join("clip.mp4");
    let out = Command::new(&exes["export"])
        .arg(&rec)
        .arg("cam1")
        .arg(&clip)
        .arg("2")
        .output()
        .unwrap();
    assert_ok(&out, "export");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("verify: OK"), "{text}");
    assert!(clip.exists());

    let peers = start_peers();
    let out = Command::new(&exes["discover"])
        .args(["--unicast", &peers.discovery, ONVIF_USER, ONVIF_PASS])
        .output()
        .unwrap();
    assert_ok(&out, "discover --unicast");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1 device(s)"), "{text}");
    assert!(text.contains("Test & Sons SimCam-1"), "{text}");
    assert!(
        text.contains("profile profile_0 (MainProfile): H264 1920x1080"),
        "{text}"
    );

    let out = Command::new(&exes["discover"]).arg("300").output().unwrap();
    assert_ok(&out, "discover (multicast)");
}

//! The C test program (ffi/tests/c/test_api.c) against the built library: as C11 linked
//! statically, as C++17 linked dynamically, under AddressSanitizer + UBSan, and under
//! valgrind. Each run talks to the built-in sim camera (RTSP and its ONVIF face with PullPoint
//! motion events, started by the program through the C API), an ONVIF device with PTZ, events
//! (tamper, motion and other injected into its first PullMessages answer) and a WS-Discovery
//! responder (onvif-server, in this process), and,
//! except for the C++ run, a GStreamer RTSP server (examples/tests/support/gst_rtsp_server.py)
//! when GStreamer is installed (required under CI), and a second one sending H.264 with
//! G.711 mu-law audio (`--audio pcmu`) for the track and audio-frame calls. The C11 run also records with uploads to
//! a real S3 server (s3s-fs).

#[path = "../../core/tests/support/s3s_fs.rs"]
mod s3s_fs;
mod support;

use s3s_fs::S3sFs;
use std::process::Command;
use support::*;

/// Starts the H.264 + PCMU server and passes it to the C program (`--rtsp-pcmu`); the
/// server lives as long as the returned guard.
fn with_audio(cmd: &mut Command, dir: &std::path::Path) -> Option<Gst> {
    let av = start_gst_with_audio(dir);
    if let Some(g) = &av {
        cmd.args(["--rtsp-pcmu", &g.url]);
    }
    av
}

fn test_source() -> std::path::PathBuf {
    root().join("ffi/tests/c/test_api.c")
}

/// Runs `cmd` with the peers' addresses and checks it printed "N passed, 0 failed".
fn run(mut cmd: Command, peers: &Peers, rtsp: Option<&str>, what: &str) {
    let out_dir = tmpdir(&format!("out-{}", what.replace(['+', ' '], "-")));
    cmd.args(["--onvif", &peers.xaddr, "--discovery", &peers.discovery]);
    cmd.arg("--out").arg(&out_dir);
    if let Some(u) = rtsp {
        cmd.args(["--rtsp", u]);
    }
    // Panic backtraces (from the deliberate panic) are noise here.
    cmd.env("RUST_BACKTRACE", "0");
    let out = cmd.output().expect("run the C test");
    assert_ok(&out, what);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(" passed, 0 failed"), "{what}: {stdout}");
    eprintln!("{what}: {}", stdout.trim());
    // What the device's PTZ service was asked, as it parsed the requests.
    assert_eq!(
        *peers.ptz_log.lock().unwrap(),
        [
            "goto_preset profile_0 2",
            "continuous_move profile_0 0.5 -0.25 0",
            "stop profile_0 true true"
        ],
        "{what}: PTZ requests"
    );
}

#[test]
fn c11_static() {
    let dir = tmpdir("c11-static");
    let exe = dir.join("test_api");
    compile(&[test_source()], &exe, false, Link::Static, &[]);
    let peers = start_peers();
    let gst = start_gst(&dir);
    // Uploads through the C options, to a real S3 server (this build only: one is enough).
    let s3 = S3sFs::start(&dir.join("s3"), "AKCAMWIREC", "SKcamwire/c+secret");
    let mut cmd = Command::new(&exe);
    let _av = with_audio(&mut cmd, &dir);
    cmd.arg("--s3")
        .arg(s3.endpoint())
        .arg("--s3-data")
        .arg(&s3.data)
        // For the read side (camwire_list_ranges/export/verify of an s3:// root).
        .env("AWS_ENDPOINT_URL", s3.endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKCAMWIREC")
        .env("AWS_SECRET_ACCESS_KEY", "SKcamwire/c+secret")
        .env("AWS_ALLOW_HTTP", "true");
    run(
        cmd,
        &peers,
        gst.as_ref().map(|g| g.url.as_str()),
        "C11 static",
    );
}

#[test]
fn cpp17_shared() {
    let dir = tmpdir("cpp17-shared");
    let exe = dir.join("test_api");
    compile(&[test_source()], &exe, true, Link::Shared, &[]);
    let peers = start_peers();
    run(Command::new(&exe), &peers, None, "C++17 shared");
}

#[test]
fn asan_ubsan() {
    let dir = tmpdir("asan");
    let exe = dir.join("test_api");
    compile(
        &[test_source()],
        &exe,
        false,
        Link::Static,
        &[
            "-fsanitize=address,undefined",
            "-fno-omit-frame-pointer",
            "-fno-sanitize-recover=all",
        ],
    );
    let peers = start_peers();
    let mut cmd = Command::new(&exe);
    cmd.env(
        "ASAN_OPTIONS",
        "detect_leaks=1:abort_on_error=0:exitcode=23",
    )
    .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    .env(
        "LSAN_OPTIONS",
        format!(
            "suppressions={}",
            root().join("ffi/tests/c/lsan.supp").display()
        ),
    );
    let gst = start_gst(&dir);
    let _av = with_audio(&mut cmd, &dir);
    run(
        cmd,
        &peers,
        gst.as_ref().map(|g| g.url.as_str()),
        "ASan+UBSan",
    );
}

#[test]
fn valgrind() {
    if !have("valgrind") {
        if std::env::var_os("CI").is_some() {
            panic!("valgrind is not installed (apt-get install valgrind)");
        }
        eprintln!("skipping: valgrind not installed");
        return;
    }
    let dir = tmpdir("valgrind");
    let exe = dir.join("test_api");
    compile(&[test_source()], &exe, false, Link::Static, &[]);
    let peers = start_peers();
    let mut cmd = Command::new("valgrind");
    cmd.args([
        "--error-exitcode=1",
        "--leak-check=full",
        "--errors-for-leak-kinds=definite,indirect,possible",
        "--show-leak-kinds=definite,indirect,possible",
    ])
    .arg(format!(
        "--suppressions={}",
        root().join("ffi/tests/c/valgrind.supp").display()
    ))
    .arg(&exe);
    let gst = start_gst(&dir);
    let _av = with_audio(&mut cmd, &dir);
    run(
        cmd,
        &peers,
        gst.as_ref().map(|g| g.url.as_str()),
        "valgrind",
    );
}

//! The C program ffi/tests/c/test_replay.c (camwire_device_recordings, camwire_device_fetch,
//! camwire_fetch_url, correct use and misuse) against GStreamer's ONVIF replay peer
//! (core/tests/support/gst_onvif_server.py with its SOAP template device; a 20 s, 25 fps clip
//! dated 2026-11-25T10:00:00Z with no data from 10:00:04 to 10:00:16), built as C11 linked
//! statically, as C++17 linked dynamically, under AddressSanitizer + UBSan and under
//! valgrind. After each run the clips the program fetched are decoded with ffmpeg and their
//! frames compared with the source's: across the gap, source frames 50..200; the named
//! 10:00:01..10:00:03 (fragmented), frames 25..75 after the pre-roll; from the URL
//! 10:00:17..10:00:19, frames 125..175; and from the built-in sim 4 s either side of its
//! 60 s gap, frame for frame its clip by the sim's rule (frame at t = access unit
//! floor(t / 40 ms) mod 250).
//!
//! The `vendor_*` tests do the same with ffi/tests/c/test_fetch_vendor.c (vendor playback
//! and the fetch progress callback) against the same peer without the gap and with a
//! Hikvision mount (`/Streaming/tracks/101`, UTC) and a Dahua mount (`/cam/playback`, the
//! device's local time, UTC+7): each clip of 10:00:06..10:00:10 must be exactly source frames
//! 150..250 and name its vendor and URL in its manifest, without the password.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::*;

fn test_source() -> PathBuf {
    root().join("ffi/tests/c/test_replay.c")
}

/// 20 s of testsrc2 (320x240, 25 fps, a keyframe every 2 s, no B-frames).
fn make_clip(dir: &Path) -> PathBuf {
    let out = dir.join("src.mp4");
    let o = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25",
        ])
        .args([
            "-t", "20", "-c:v", "libx264", "-preset", "veryfast", "-bf", "0",
        ])
        .args(["-g", "50", "-keyint_min", "50", "-sc_threshold", "0"])
        .args(["-pix_fmt", "yuv420p", "-b:v", "300k"])
        .arg(&out)
        .output()
        .expect("ffmpeg");
    assert_ok(&o, "ffmpeg making the source clip");
    out
}

/// One MD5 per decoded frame (`ffmpeg -f framemd5`), in order.
fn framemd5(path: &Path) -> Vec<String> {
    let o = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-map", "0:v", "-f", "framemd5", "-"])
        .output()
        .expect("ffmpeg framemd5");
    assert_ok(&o, "ffmpeg framemd5");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit(',').next().map(|s| s.trim().to_string()))
        .collect()
}

struct Server {
    child: Child,
    replay: String,
    plain: String,
    xaddr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(clip: &Path, extra: &[&str]) -> Server {
    let mut child = Command::new("/usr/bin/python3")
        .arg(root().join("core/tests/support/gst_onvif_server.py"))
        .arg(clip)
        .args(["--start", "2026-11-25T10:00:00Z"])
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the GStreamer ONVIF server");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the ONVIF server did not start");
    let urls: Vec<String> = line
        .strip_prefix("READY ")
        .unwrap_or_else(|| panic!("server did not start: {line:?}"))
        .split_whitespace()
        .map(str::to_string)
        .collect();
    Server {
        child,
        replay: urls[0].clone(),
        plain: urls[1].clone(),
        xaddr: urls[2].clone(),
    }
}

/// Runs the program (`cmd`, the executable or valgrind) against a fresh server and checks
/// what it printed and the clips it left.
fn run(mut cmd: Command, what: &str) {
    if !have("ffmpeg") {
        assert!(std::env::var_os("CI").is_none(), "ffmpeg is not installed");
        eprintln!("skipping: ffmpeg not installed");
        return;
    }
    let dir = tmpdir(&format!("replay-run-{}", what.replace(['+', ' '], "-")));
    let clip = make_clip(&dir);
    let source = framemd5(&clip);
    assert_eq!(source.len(), 500);
    let server = start_server(&clip, &["--gap", "4:12"]);
    let out_dir = dir.join("out");
    std::fs::create_dir_all(&out_dir).expect("mkdir out");
    cmd.args(["--xaddr", &server.xaddr, "--replay", &server.replay])
        .args(["--plain", &server.plain])
        .arg("--out")
        .arg(&out_dir)
        .env("RUST_BACKTRACE", "0");
    let out = cmd.output().expect("run the C test");
    assert_ok(&out, what);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(" passed, 0 failed"), "{what}: {stdout}");
    eprintln!("{what}: {}", stdout.trim());
    // The clips decode, frame for frame the source's.
    let gap = framemd5(&out_dir.join("gap.mp4"));
    assert_eq!(gap.len(), 150, "{what}: frames across the gap");
    assert!(
        gap == source[50..200],
        "{what}: frames across the gap differ"
    );
    // Fragmented: the pre-roll from the keyframe at 10:00:00 is decoded too (before time 0).
    let named = framemd5(&out_dir.join("named.mp4"));
    assert_eq!(named.len(), 75, "{what}: fragmented clip");
    assert!(
        named[25..] == source[25..75],
        "{what}: fragmented frames differ"
    );
    let url = framemd5(&out_dir.join("url.mp4"));
    assert!(url == source[125..175], "{what}: URL fetch frames differ");
    for f in ["gap.mp4", "named.mp4", "url.mp4"] {
        let m =
            std::fs::read_to_string(out_dir.join(format!("{f}.manifest.json"))).expect("manifest");
        assert!(
            !m.contains("pw-n0t-pr1nted"),
            "{what}: password in {f}'s manifest"
        );
        let v: serde_json::Value = serde_json::from_str(&m).expect("manifest json");
        assert_eq!(v["origin"]["kind"], "onvif-replay", "{what}: {f}");
        assert_eq!(v["origin"]["uri"], server.replay.as_str(), "{what}: {f}");
    }
    check_sim_clip(&out_dir.join("sim_gap.mp4"), what);
    for f in ["live.mp4", "unknown.mp4", "misuse.mp4", "closed.mp4"] {
        assert!(!out_dir.join(f).exists(), "{what}: {f} written");
    }
}

/// The sim's clip fetched across its gap: the frame captured at wall-clock t is access unit
/// floor(t / 40 ms) mod 250 of core/testdata/sim_clip.h264 (the sim's documented rule);
/// 100 frames before the gap and 100 after it.
fn check_sim_clip(clip: &Path, what: &str) {
    let m: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(clip.with_extension("mp4.manifest.json")).expect("manifest"),
    )
    .expect("manifest json");
    let ms = |v: &serde_json::Value| -> i64 {
        v.as_str()
            .and_then(|s| s.parse::<jiff::Timestamp>().ok())
            .map(|t| t.as_millisecond())
            .unwrap_or_else(|| panic!("{what}: not a time: {v}"))
    };
    let (start, gap_start, gap_end) = (
        ms(&m["actual"]["start"]),
        ms(&m["gaps"][0]["start"]),
        ms(&m["gaps"][0]["end"]),
    );
    assert_eq!(gap_end - gap_start, 60_000, "{what}: sim gap");
    let o = Command::new("ffmpeg")
        .args(["-v", "error", "-framerate", "25", "-f", "h264", "-i"])
        .arg(root().join("core/testdata/sim_clip.h264"))
        .args(["-f", "framemd5", "-"])
        .output()
        .expect("ffmpeg framemd5 of the sim clip");
    assert_ok(&o, "framemd5 of the sim clip");
    let source: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit(',').next().map(|s| s.trim().to_string()))
        .collect();
    assert_eq!(source.len(), 250);
    let at = |t: i64| source[(t / 40).rem_euclid(250) as usize].clone();
    let want: Vec<String> = (0..100)
        .map(|i| at(start + 40 * i))
        .chain((0..100).map(|i| at(gap_end + 40 * i)))
        .collect();
    let got = framemd5(clip);
    assert_eq!(got.len(), 200, "{what}: sim clip frames");
    assert!(
        got == want,
        "{what}: sim clip frames differ from the clip's by the rule"
    );
}

#[test]
fn c11_static() {
    let dir = tmpdir("replay-c11");
    let exe = dir.join("test_replay");
    compile(&[test_source()], &exe, false, Link::Static, &[]);
    run(Command::new(&exe), "C11 static");
}

#[test]
fn cpp17_shared() {
    let dir = tmpdir("replay-cpp17");
    let exe = dir.join("test_replay");
    compile(&[test_source()], &exe, true, Link::Shared, &[]);
    run(Command::new(&exe), "C++17 shared");
}

#[test]
fn asan_ubsan() {
    let dir = tmpdir("replay-asan");
    let exe = dir.join("test_replay");
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
    run(cmd, "ASan+UBSan");
}

#[test]
fn valgrind() {
    if !have("valgrind") {
        assert!(
            std::env::var_os("CI").is_none(),
            "valgrind is not installed (apt-get install valgrind)"
        );
        eprintln!("skipping: valgrind not installed");
        return;
    }
    let dir = tmpdir("replay-valgrind");
    let exe = dir.join("test_replay");
    compile(&[test_source()], &exe, false, Link::Static, &[]);
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
    run(cmd, "valgrind");
}

// ---- vendor playback and progress (ffi/tests/c/test_fetch_vendor.c) ---------------------

fn vendor_source() -> PathBuf {
    root().join("ffi/tests/c/test_fetch_vendor.c")
}

/// Runs test_fetch_vendor (`cmd`) against a fresh server with the Hikvision and Dahua
/// mounts, then checks the clips it left: frames, manifests.
fn run_vendor(mut cmd: Command, what: &str) {
    if !have("ffmpeg") {
        assert!(std::env::var_os("CI").is_none(), "ffmpeg is not installed");
        eprintln!("skipping: ffmpeg not installed");
        return;
    }
    let dir = tmpdir(&format!("vendor-run-{}", what.replace(['+', ' '], "-")));
    let clip = make_clip(&dir);
    let source = framemd5(&clip);
    assert_eq!(source.len(), 500);
    let server = start_server(
        &clip,
        &[
            "--vendor-mount",
            "/Streaming/tracks/101",
            "--vendor-mount",
            "/cam/playback",
            "--utc-offset",
            "25200",
        ],
    );
    // rtsp://127.0.0.1:PORT/recording/1 -> rtsp://127.0.0.1:PORT
    let base = server
        .replay
        .rsplit_once("/recording/")
        .map(|(b, _)| b.to_string())
        .expect("replay url");
    let out_dir = dir.join("out");
    std::fs::create_dir_all(&out_dir).expect("mkdir out");
    cmd.args(["--base", &base, "--xaddr", &server.xaddr])
        .arg("--out")
        .arg(&out_dir)
        .env("RUST_BACKTRACE", "0");
    let out = cmd.output().expect("run the C test");
    assert_ok(&out, what);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(" passed, 0 failed"), "{what}: {stdout}");
    eprintln!("{what}: {}", stdout.trim());
    for (f, vendor, uri) in [
        (
            "hik.mp4",
            "hikvision",
            format!(
                "{base}/Streaming/tracks/101?starttime=20261125T100006Z&endtime=20261125T100010Z"
            ),
        ),
        (
            "dahua.mp4",
            "dahua",
            format!(
                "{base}/cam/playback?channel=1&subtype=0&starttime=2026_11_25_17_00_06&endtime=2026_11_25_17_00_10"
            ),
        ),
    ] {
        let got = framemd5(&out_dir.join(f));
        assert_eq!(got.len(), 100, "{what}: frames of {f}");
        assert!(
            got == source[150..250],
            "{what}: {f} frames differ from the source's"
        );
        let m =
            std::fs::read_to_string(out_dir.join(format!("{f}.manifest.json"))).expect("manifest");
        assert!(
            !m.contains("pw-n0t-pr1nted"),
            "{what}: password in {f}'s manifest"
        );
        let v: serde_json::Value = serde_json::from_str(&m).expect("manifest json");
        assert_eq!(v["origin"]["kind"], "vendor-playback", "{what}: {f}");
        assert_eq!(v["origin"]["vendor"], vendor, "{what}: {f}");
        assert_eq!(v["origin"]["times_from"], "rtp", "{what}: {f}");
        assert_eq!(v["origin"]["uri"], uri.as_str(), "{what}: {f}");
        assert_eq!(v["actual"]["start"], "2026-11-25T10:00:06Z", "{what}: {f}");
    }
    let after = framemd5(&out_dir.join("after-cancel.mp4"));
    assert!(
        after == source[200..225],
        "{what}: after-cancel.mp4 frames differ"
    );
    for f in ["cancel.mp4", "misuse.mp4", "root"] {
        assert!(!out_dir.join(f).exists(), "{what}: {f} written");
    }
}

#[test]
fn vendor_c11_static() {
    let dir = tmpdir("vendor-c11");
    let exe = dir.join("test_fetch_vendor");
    compile(&[vendor_source()], &exe, false, Link::Static, &[]);
    run_vendor(Command::new(&exe), "C11 static");
}

#[test]
fn vendor_cpp17_shared() {
    let dir = tmpdir("vendor-cpp17");
    let exe = dir.join("test_fetch_vendor");
    compile(&[vendor_source()], &exe, true, Link::Shared, &[]);
    run_vendor(Command::new(&exe), "C++17 shared");
}

#[test]
fn vendor_asan_ubsan() {
    let dir = tmpdir("vendor-asan");
    let exe = dir.join("test_fetch_vendor");
    compile(
        &[vendor_source()],
        &exe,
        false,
        Link::Static,
        &[
            "-fsanitize=address,undefined",
            "-fno-omit-frame-pointer",
            "-fno-sanitize-recover=all",
        ],
    );
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
    run_vendor(cmd, "ASan+UBSan");
}

#[test]
fn vendor_valgrind() {
    if !have("valgrind") {
        assert!(
            std::env::var_os("CI").is_none(),
            "valgrind is not installed (apt-get install valgrind)"
        );
        eprintln!("skipping: valgrind not installed");
        return;
    }
    let dir = tmpdir("vendor-valgrind");
    let exe = dir.join("test_fetch_vendor");
    compile(&[vendor_source()], &exe, false, Link::Static, &[]);
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
    run_vendor(cmd, "valgrind");
}

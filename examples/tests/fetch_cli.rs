//! `camwire fetch` against GStreamer's ONVIF RTSP server with replay support
//! (`core/tests/support/gst_onvif_server.py`, gst-rtsp-server 1.22) serving a 20 s
//! recording dated 2026-11-25T10:00:00Z (25 fps, a keyframe every 2 s).
//!
//! - 10:00:05..10:00:15 with `--user/--password`: the clip's decoded frames are the source's
//!   frames 125..375 (the pre-roll from the keyframe at 10:00:04 hidden by the edit list),
//!   the manifest's origin says `Rate-Control: no`, and the password is printed nowhere.
//! - `camwire verify` passes on the fetched clip (output and media hashes, no sources) and
//!   fails once one byte of its media is flipped.
//! - The plain mount (no replay support, 551): exit 1 with "device cannot replay (no
//!   Profile G)", and no output file.
//! - `--xaddr --recording`: the URI comes from GetReplayUri of the server's SOAP template
//!   device (clock one hour ahead); the manifest names the device, the recording and the
//!   +3600 s clock offset. An unknown recording token is the device's NoRecording fault.
//!   Without --recording, the one recording covering the range (Recording Search) is used.
//! - `--into ROOT --camera ID` (back-fill): two stretches written as recorder segments leave
//!   a gap in `camwire ls`; back-filling 10:00:06..10:00:14 closes it (one range, no gap),
//!   `camwire export` of all 20 s gives the source's 500 frames exactly, and gaps.jsonl
//!   notes each span as `backfilled from device`.
//! - Older firmware without GetServices: the Search and Replay addresses come from
//!   GetCapabilities' Extension, and recordings and fetch --xaddr work the same.
//! - `camwire recordings --xaddr --json`: one search session (FindRecordings, a Searching
//!   page with no results, then Completed with RecordingToken_1 spanning the archive,
//!   EndSearch sent), the recording's times and video track listed; with --start/--end over
//!   an archive with a 12 s hole, the ranges with data and the gap (FindEvents).

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use support::{assert_decodes_cleanly, assert_ok, camwire, clip, framemd5, tmpdir};

/// The ONVIF server over `clip`: its RTSP replay and plain mounts and its SOAP template
/// device (`xaddr`).
struct Server {
    child: Child,
    replay: String,
    plain: String,
    xaddr: String,
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
        .expect("start the GStreamer ONVIF server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read READY");
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

/// `camwire fetch` of 10:00:05..10:00:15 from `source` (`--url RTSP` or `--xaddr X`) into
/// `out`, plus `extra` options.
fn fetch(source: [&str; 2], out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "fetch",
        source[0],
        source[1],
        "--start",
        "2026-11-25T10:00:05Z",
    ];
    args.extend(["--end", "2026-11-25T10:00:15Z"]);
    args.extend(["--out", out.to_str().expect("utf-8 path")]);
    args.extend(extra);
    camwire(&args)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn fetch_writes_the_window_and_its_manifest() {
    let mp4 = clip(320, 240, 20, 300);
    let source = framemd5(std::slice::from_ref(&mp4));
    let dir = tmpdir("fetch-cli");
    let server = start_server(&mp4, &[]);
    let out: PathBuf = dir.join("gate.mp4");
    let o = fetch(
        ["--url", &server.replay],
        &out,
        &["--user", "investigator", "--password", "pw-n0t-printed"],
    );
    assert_ok(&o, "camwire fetch");
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(stdout.contains("fetched 2026-11-25T10:00:05Z .. 2026-11-25T10:00:15Z (250 frames"));
    assert!(stdout.contains("Rate-Control: no;"), "{stdout}");
    assert_decodes_cleanly(&out);
    let got = framemd5(std::slice::from_ref(&out));
    assert_eq!(got.len(), 250);
    assert!(
        got == source[125..375],
        "decoded frames differ from the source's"
    );
    let manifest = std::fs::read_to_string(dir.join("gate.mp4.manifest.json")).expect("manifest");
    let m: serde_json::Value = serde_json::from_str(&manifest).expect("json");
    assert_eq!(m["origin"]["rate_control"], "no");
    assert_eq!(m["origin"]["uri"], server.replay.as_str());
    assert_eq!(m["preroll_start"], "2026-11-25T10:00:04Z");
    assert_eq!(m["samples"], 275);
    for text in [&*stdout, &*stderr, &manifest] {
        assert!(!text.contains("pw-n0t-printed"));
    }

    // `verify` checks a fetched clip by its output and media hashes (it has no sources).
    let o = camwire(&["verify", out.to_str().expect("utf-8 path")]);
    assert_ok(&o, "camwire verify of the fetched clip");
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(said.starts_with("OK "), "{said}");
    // One flipped byte in the middle of the media fails it.
    let mut bytes = std::fs::read(&out).expect("read clip");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&out, &bytes).expect("write clip");
    let o = camwire(&["verify", out.to_str().expect("utf-8 path")]);
    let said = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{said}");
    assert!(said.contains("MISMATCH clip"), "{said}");
    assert!(said.contains("MISMATCH media of the clip"), "{said}");
}

#[test]
fn fetch_from_a_device_without_profile_g_fails_with_the_reason() {
    let mp4 = clip(320, 240, 20, 300);
    let dir = tmpdir("fetch-cli-551");
    let server = start_server(&mp4, &[]);
    let out = dir.join("live.mp4");
    let o = fetch(["--url", &server.plain], &out, &[]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("device cannot replay (no Profile G)") && stderr.contains("551"),
        "{stderr}"
    );
    assert!(!out.exists());
}

#[test]
fn fetch_by_xaddr_asks_the_replay_service_and_names_the_device() {
    let mp4 = clip(320, 240, 20, 300);
    let source = framemd5(std::slice::from_ref(&mp4));
    let dir = tmpdir("fetch-cli-xaddr");
    let server = start_server(&mp4, &["--clock-offset", "3600"]);
    let out = dir.join("rec.mp4");
    let login = ["--user", "investigator", "--password", "pw-n0t-printed"];
    let mut extra = vec!["--recording", "RecordingToken_1"];
    extra.extend(login);
    let o = fetch(["--xaddr", &server.xaddr], &out, &extra);
    assert_ok(&o, "camwire fetch --xaddr");
    let stdout = String::from_utf8_lossy(&o.stdout);
    eprintln!("{stdout}");
    assert!(
        stdout.contains(
            "device: GStreamer gst-rtsp-server ONVIF replay peer (firmware 1.22), recording \
             RecordingToken_1, clock offset +3"
        ),
        "{stdout}"
    );
    assert!(framemd5(std::slice::from_ref(&out)) == source[125..375]);
    let manifest = std::fs::read_to_string(dir.join("rec.mp4.manifest.json")).expect("manifest");
    assert!(!manifest.contains("pw-n0t-printed"));
    let m: serde_json::Value = serde_json::from_str(&manifest).expect("json");
    let d = &m["origin"]["device"];
    assert_eq!(d["serial_number"], "CW-TEST-0001");
    assert_eq!(d["recording_token"], "RecordingToken_1");
    assert_eq!(d["xaddr"], server.xaddr.as_str());
    let offset = d["clock_offset_secs"].as_f64().expect("offset");
    assert!((offset - 3600.0).abs() < 3.0, "{offset}");
    // A whole hour off: the device's UTC is probably local time, and the output says so.
    assert!(
        d["clock_warning"]
            .as_str()
            .is_some_and(|w| w.contains("+1 h")),
        "{d}"
    );
    assert!(
        stdout.contains("warning: the device clock is +"),
        "{stdout}"
    );
    assert_eq!(m["origin"]["uri"], server.replay.as_str());

    let mut extra = vec!["--recording", "RecordingToken_9"];
    extra.extend(login);
    let o = fetch(["--xaddr", &server.xaddr], &dir.join("none.mp4"), &extra);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("NoRecording"), "{stderr}");
    assert!(!stderr.contains("pw-n0t-printed"));
    assert!(!dir.join("none.mp4").exists());

    // Without --recording: the device's only recording covering the range is taken.
    let only = dir.join("only.mp4");
    let o = fetch(["--xaddr", &server.xaddr], &only, &[]);
    assert_ok(&o, "camwire fetch --xaddr without --recording");
    assert!(framemd5(std::slice::from_ref(&only)) == source[125..375]);

    // A range after the recording: the error says what the recording holds.
    let mut args = vec![
        "fetch",
        "--xaddr",
        &server.xaddr,
        "--recording",
        "RecordingToken_1",
    ];
    args.extend([
        "--start",
        "2026-11-25T10:05:00Z",
        "--end",
        "2026-11-25T10:05:10Z",
    ]);
    let late = dir.join("late.mp4");
    args.extend(["--out", late.to_str().expect("utf-8 path")]);
    let o = camwire(&args);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no recording between 2026-11-25T10:05:00Z and 2026-11-25T10:05:10Z")
            && stderr.contains(
                "recording RecordingToken_1 holds 2026-11-25T10:00:00Z .. 2026-11-25T10:00:20Z"
            ),
        "{stderr}"
    );
    assert!(!late.exists());
}

#[test]
fn recordings_pages_the_search_to_completed_and_ends_it() {
    let mp4 = clip(320, 240, 20, 300);
    let dir = tmpdir("recordings-cli");
    let log = dir.join("soap.log");
    let server = start_server(&mp4, &["--soap-log", log.to_str().expect("utf-8 path")]);
    let o = camwire(&["recordings", "--xaddr", &server.xaddr, "--json"]);
    assert_ok(&o, "camwire recordings");
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let recs = doc["recordings"].as_array().expect("recordings");
    assert_eq!(recs.len(), 1, "{doc}");
    let r = &recs[0];
    assert_eq!(r["token"], "RecordingToken_1");
    assert_eq!(r["earliest"], "2026-11-25T10:00:00Z");
    assert_eq!(r["latest"], "2026-11-25T10:00:20Z");
    assert_eq!(r["suspect_time"], false);
    assert_eq!(r["tracks"][0]["type"], "Video");
    let ops = std::fs::read_to_string(&log).expect("soap log");
    let search: Vec<&str> = ops
        .lines()
        .filter(|l| l.contains("Recording") || l.contains("Search"))
        .collect();
    assert_eq!(
        search,
        [
            "FindRecordings",
            "GetRecordingSearchResults",
            "GetRecordingSearchResults",
            "EndSearch"
        ],
        "{ops}"
    );
    // The plain listing names the token fetch takes.
    let o = camwire(&["recordings", "--xaddr", &server.xaddr]);
    assert_ok(&o, "camwire recordings");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("1 recordings on "), "{text}");
    assert!(
        text.contains("RecordingToken_1  2026-11-25T10:00:00Z .. 2026-11-25T10:00:20Z  Stopped"),
        "{text}"
    );
}

#[test]
fn recordings_with_a_window_lists_ranges_and_the_gap() {
    let mp4 = clip(320, 240, 20, 300);
    let dir = tmpdir("recordings-cli-gap");
    let log = dir.join("soap.log");
    let args = [
        "--gap",
        "4:12",
        "--soap-log",
        log.to_str().expect("utf-8 path"),
    ];
    let server = start_server(&mp4, &args);
    let o = camwire(&[
        "recordings",
        "--xaddr",
        &server.xaddr,
        "--start",
        "2026-11-25T09:59:00Z",
        "--end",
        "2026-11-25T10:01:00Z",
        "--json",
    ]);
    assert_ok(&o, "camwire recordings --start --end");
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let r = &doc["recordings"][0];
    assert_eq!(r["latest"], "2026-11-25T10:00:32Z", "{doc}");
    let span = |v: &serde_json::Value| (v["start"].clone(), v["end"].clone());
    let ranges: Vec<_> = r["ranges"]
        .as_array()
        .expect("ranges")
        .iter()
        .map(span)
        .collect();
    let gaps: Vec<_> = r["gaps"]
        .as_array()
        .expect("gaps")
        .iter()
        .map(span)
        .collect();
    let s = |a: &str, b: &str| (serde_json::json!(a), serde_json::json!(b));
    assert_eq!(
        ranges,
        [
            s("2026-11-25T10:00:00Z", "2026-11-25T10:00:04Z"),
            s("2026-11-25T10:00:16Z", "2026-11-25T10:00:32Z")
        ],
        "{doc}"
    );
    assert_eq!(gaps, [s("2026-11-25T10:00:04Z", "2026-11-25T10:00:16Z")]);
    let ops = std::fs::read_to_string(&log).expect("soap log");
    assert!(
        ops.contains("FindEvents\nGetEventSearchResults\nEndSearch\n"),
        "{ops}"
    );
}

#[test]
fn firmware_without_get_services_is_found_through_get_capabilities() {
    let mp4 = clip(320, 240, 20, 300);
    let source = framemd5(std::slice::from_ref(&mp4));
    let dir = tmpdir("fetch-cli-caps");
    let log = dir.join("soap.log");
    let args = [
        "--no-get-services",
        "--soap-log",
        log.to_str().expect("utf-8 path"),
    ];
    let server = start_server(&mp4, &args);
    let o = camwire(&["recordings", "--xaddr", &server.xaddr, "--json"]);
    assert_ok(&o, "camwire recordings (GetCapabilities only)");
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(doc["recordings"][0]["token"], "RecordingToken_1", "{doc}");
    let out = dir.join("caps.mp4");
    let o = fetch(
        ["--xaddr", &server.xaddr],
        &out,
        &["--recording", "RecordingToken_1"],
    );
    assert_ok(&o, "camwire fetch --xaddr (GetCapabilities only)");
    assert!(framemd5(std::slice::from_ref(&out)) == source[125..375]);
    let ops = std::fs::read_to_string(&log).expect("soap log");
    assert!(ops.contains("GetServices\nGetCapabilities\n"), "{ops}");
    assert!(ops.contains("GetReplayUri"), "{ops}");
}

#[test]
fn backfill_into_a_root_fills_its_gap_for_ls_and_export() {
    let mp4 = clip(320, 240, 20, 300);
    let source = framemd5(std::slice::from_ref(&mp4));
    let dir = tmpdir("fetch-cli-backfill");
    let server = start_server(&mp4, &[]);
    let root = dir.join("rec");
    let root_s = root.to_str().expect("utf-8 path");
    let fill = |from: &str, to: &str| {
        let o = camwire(&[
            "fetch",
            "--url",
            &server.replay,
            "--start",
            from,
            "--end",
            to,
            "--into",
            root_s,
            "--camera",
            "gate",
        ]);
        assert_ok(&o, "camwire fetch --into");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let ls = || {
        let o = camwire(&["ls", "--root", root_s, "--camera", "gate", "--json"]);
        assert_ok(&o, "camwire ls");
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("ls json");
        v["cameras"][0].clone()
    };
    // Two stretches, a hole between them: what a recorder that lost its camera has.
    fill("2026-11-25T10:00:00Z", "2026-11-25T10:00:06Z");
    fill("2026-11-25T10:00:14Z", "2026-11-25T10:00:20Z");
    let before = ls();
    assert_eq!(before["gaps"].as_array().map(Vec::len), Some(1), "{before}");
    assert_eq!(before["gaps"][0]["start"], "2026-11-25T10:00:06Z");
    assert_eq!(before["gaps"][0]["end"], "2026-11-25T10:00:14Z");
    // Back-fill the hole.
    let said = fill("2026-11-25T10:00:06Z", "2026-11-25T10:00:14Z");
    eprintln!("{said}");
    assert!(
        said.contains("back-filled 2026-11-25T10:00:06Z .. 2026-11-25T10:00:13.96Z (200 frames)"),
        "{said}"
    );
    let after = ls();
    eprintln!("{after}");
    assert_eq!(after["gaps"].as_array().map(Vec::len), Some(0), "{after}");
    assert_eq!(after["ranges"].as_array().map(Vec::len), Some(1), "{after}");
    assert_eq!(after["ranges"][0]["start"], "2026-11-25T10:00:00Z");
    assert_eq!(after["ranges"][0]["end"], "2026-11-25T10:00:20Z");
    // The whole 20 s exports as the source, frame for frame, across the three files.
    let clip_out = dir.join("gate.mp4");
    let o = camwire(&[
        "export",
        "--root",
        root_s,
        "--camera",
        "gate",
        "--start",
        "2026-11-25T10:00:00Z",
        "--end",
        "2026-11-25T10:00:20Z",
        "--out",
        clip_out.to_str().expect("utf-8 path"),
    ]);
    assert_ok(&o, "camwire export of the back-filled root");
    assert_decodes_cleanly(&clip_out);
    let got = framemd5(std::slice::from_ref(&clip_out));
    assert_eq!(got.len(), 500);
    assert!(got == source, "exported frames differ from the source's");
    let gaps = std::fs::read_to_string(root.join("gate/gaps.jsonl")).expect("gaps.jsonl");
    assert_eq!(
        gaps.matches("\"reason\":\"backfilled from device\"")
            .count(),
        3,
        "{gaps}"
    );
}

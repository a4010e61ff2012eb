//! The Recorder against a GStreamer RTSP server that is killed and restarted on the same port
//! three times: it reconnects every time, each outage is a gap whose bounds match the outage
//! within a second or two, memory stays flat, and every file plays.

mod support;
use camwire::record::{
    Backoff, CameraConfig, Recorder, RecorderEventKind, RecorderOptions, SegmentOptions,
};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};
use support::*;

/// The GStreamer server on a fixed port, so a restart serves the same URL.
fn start_server(file: &Path, port: u16) -> Child {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/gst_rtsp_server.py");
    let mut child = Command::new("/usr/bin/python3")
        .arg(script)
        .arg(file)
        .args(["--port", &port.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the GStreamer RTSP server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("READY "), "server: {line:?}");
    child
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn secs(a: SystemTime, b: SystemTime) -> f64 {
    match a.duration_since(b) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

#[test]
fn gstreamer_killed_and_restarted_gives_exact_gaps() {
    let src = clip(640, 360, 60, 1000);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = start_server(&src, port);
    let root = tmpdir("recorder-gst");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _guard = rt.enter();
    let mut opts = RecorderOptions::new(&root);
    opts.backoff = Backoff {
        initial: Duration::from_millis(250),
        max: Duration::from_secs(1),
        ..Backoff::default()
    };
    let rec = Recorder::start(opts).unwrap();
    let mut events = rec.events();
    let collector = rt.spawn(async move {
        let mut out = Vec::new();
        while let Ok(ev) = events.recv().await {
            out.push(ev);
        }
        out
    });
    rec.add_camera(CameraConfig {
        id: "gst".into(),
        url: format!("rtsp://127.0.0.1:{port}/stream"),
        source: Default::default(),
        segment: SegmentOptions {
            fragment_ms: 500,
            ..Default::default()
        },
        depacketizer: Default::default(),
        backfill: None,
    })
    .unwrap();

    std::thread::sleep(Duration::from_secs(4));
    let rss_start = rss_kib();
    let mut outages = Vec::new();
    for _ in 0..3 {
        let down = SystemTime::now();
        server.kill().unwrap();
        server.wait().unwrap();
        std::thread::sleep(Duration::from_secs(3));
        server = start_server(&src, port);
        let up = SystemTime::now();
        outages.push((down, up));
        std::thread::sleep(Duration::from_secs(5));
    }
    let rss_end = rss_kib();
    let statuses = rt.block_on(rec.shutdown());
    let events = rt.block_on(collector).unwrap();
    let _ = server.kill();
    let _ = server.wait();

    let st = &statuses[0];
    let gaps: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.kind {
            RecorderEventKind::Gap(g) => Some(g.clone()),
            _ => None,
        })
        .collect();
    println!(
        "{} reconnects, {} frames, RSS {rss_start} -> {rss_end} KiB",
        st.reconnects, st.frames
    );
    assert_eq!(st.reconnects, 3, "{st:?}");
    assert_eq!(gaps.len(), 3, "{gaps:?}");
    for ((down, up), g) in outages.iter().zip(&gaps) {
        let start_off = secs(g.start, *down);
        let end_off = secs(g.end, *up);
        println!(
            "outage {:.2} s; gap {:.2} s: starts {start_off:+.2} s from the kill, ends \
             {end_off:+.2} s from the restart ({})",
            secs(*up, *down),
            secs(g.end, g.start),
            g.reason
        );
        // The last frame written arrived just before the kill (25 fps, loopback).
        assert!((-1.0..=0.1).contains(&start_off), "{g:?}");
        // The first new frame: after the restart, within backoff (<= 1 s) + connect.
        assert!((0.0..=2.0).contains(&end_off), "{g:?}");
    }
    assert!(
        rss_end <= rss_start + 8 * 1024,
        "RSS {rss_start} -> {rss_end} KiB"
    );
    let files = mp4_files(&root.join("gst"));
    assert!(files.len() >= 4, "{files:?}");
    for f in &files {
        assert_ffprobe_clean(f);
        assert_decodes_cleanly(f);
    }
}

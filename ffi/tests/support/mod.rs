//! Shared pieces of the C tests: where the built library is, compiling C/C++ against it, and
//! the peers the C programs talk to (an ONVIF device from the `onvif-server` crate with a
//! WS-Discovery responder, a GStreamer RTSP server).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The profile directory holding libcamwire.a / libcamwire.so (the one this test binary was
/// built into: target/<profile>/deps/<test> -> target/<profile>). A test build does not
/// always leave the cdylib/staticlib there, or not from the current sources (a `cargo
/// nextest run` builds only what the test binaries link), so they are built here each time
/// (a no-op when fresh); cargo's own lock serializes the tests that get here at once.
pub fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf();
    let present = || dir.join("libcamwire.a").exists() && dir.join("libcamwire.so").exists();
    // Always asked for: a library left by an earlier build may predate the sources (a
    // function the C test calls would then be missing); cargo makes this a no-op when fresh.
    {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args(["build", "-p", "camwire-ffi", "--lib", "--all-features"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build -p camwire-ffi");
        assert!(status.success(), "cargo build -p camwire-ffi failed");
    }
    assert!(
        present(),
        "libcamwire.a/.so not in {} after cargo build -p camwire-ffi",
        dir.display()
    );
    // Programs linked with -lcamwire record the SONAME, libcamwire.so.0: give the loader
    // the link `make install` makes (a concurrent test may have made it first).
    let so0 = dir.join("libcamwire.so.0");
    if std::fs::symlink_metadata(&so0).is_err() {
        let _ = std::os::unix::fs::symlink("libcamwire.so", &so0);
    }
    dir
}

/// A scratch directory for one test.
pub fn tmpdir(name: &str) -> PathBuf {
    let d =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("ffi-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("mkdir");
    d
}

/// System libraries a Rust staticlib needs (from `rustc --print native-static-libs`).
pub const STATIC_DEPS: &[&str] = &[
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];

/// How to link the library.
#[derive(Clone, Copy, Debug)]
pub enum Link {
    Static,
    Shared,
}

/// Compiles `sources` into `out` with `compiler` (gcc/g++), -Wall -Wextra -Werror, the
/// include dir and the library; `cpp` compiles the sources as C++17, else C11.
pub fn compile(sources: &[PathBuf], out: &Path, cpp: bool, link: Link, extra: &[&str]) {
    let lib = lib_dir();
    let mut c = Command::new(if cpp { "g++" } else { "gcc" });
    c.args(["-Wall", "-Wextra", "-Werror", "-g", "-O1"]);
    if cpp {
        c.args(["-std=c++17", "-x", "c++"]);
    } else {
        c.arg("-std=c11");
    }
    c.args(extra);
    c.arg("-I").arg(root().join("include"));
    c.args(sources);
    if cpp {
        c.args(["-x", "none"]);
    }
    match link {
        Link::Static => {
            c.arg(lib.join("libcamwire.a"));
            c.args(STATIC_DEPS);
        }
        Link::Shared => {
            c.arg(format!("-L{}", lib.display()))
                .arg(format!("-Wl,-rpath,{}", lib.display()))
                .arg("-lcamwire");
        }
    }
    c.arg("-o").arg(out);
    let o = c.output().expect("run the C compiler");
    assert_ok(&o, &format!("compiling {sources:?}"));
}

/// Fails the test with both output streams when the command did not exit 0.
pub fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// True when `tool` runs (`tool --version`, or `-version` for ffmpeg).
pub fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg(if tool == "ffmpeg" {
            "-version"
        } else {
            "--version"
        })
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

// ---- the ONVIF device (onvif-server crate) and a WS-Discovery responder ----

use async_trait::async_trait;
use onvif_server::{
    DeviceInfo, DeviceService, EventService, MediaService, OnvifError, OnvifServer, PTZService,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

pub const ONVIF_USER: &str = "operator";
pub const ONVIF_PASS: &str = "Tr0ub4dor&3";

#[derive(Clone)]
struct Cam {
    port: u16,
    /// PTZ requests as the device understood them ("goto_preset profile_0 2", ...).
    ptz_log: Arc<Mutex<Vec<String>>>,
}

#[async_trait]
impl DeviceService for Cam {
    async fn get_device_information(&self) -> Result<DeviceInfo, OnvifError> {
        Ok(DeviceInfo {
            manufacturer: "Test & Sons".into(),
            model: "SimCam-1".into(),
            firmware_version: "1.2.3".into(),
            serial_number: "SN-42".into(),
            hardware_id: "hw-7".into(),
        })
    }
}

#[async_trait]
impl MediaService for Cam {
    async fn get_stream_uri(&self, profile: &str) -> Result<String, OnvifError> {
        Ok(format!("rtsp://127.0.0.1:8554/{profile}"))
    }
    async fn get_snapshot_uri(&self, profile: &str) -> Result<String, OnvifError> {
        Ok(format!(
            "http://127.0.0.1:{}/snapshot/{profile}.jpg",
            self.port
        ))
    }
}

#[async_trait]
impl EventService for Cam {}

#[async_trait]
impl PTZService for Cam {
    async fn get_presets(
        &self,
        _profile: &str,
    ) -> Result<Vec<onvif_server::generated::PTZPreset>, OnvifError> {
        Ok(vec![
            onvif_server::generated::PTZPreset {
                token: "1".into(),
                name: "Gate".into(),
            },
            onvif_server::generated::PTZPreset {
                token: "2".into(),
                name: "Loading dock".into(),
            },
        ])
    }
    async fn goto_preset(&self, profile: &str, preset: &str) -> Result<(), OnvifError> {
        if preset != "1" && preset != "2" {
            return Err(OnvifError::InvalidArgument(format!("no preset {preset}")));
        }
        self.ptz_log
            .lock()
            .unwrap()
            .push(format!("goto_preset {profile} {preset}"));
        Ok(())
    }
    async fn continuous_move(
        &self,
        profile: &str,
        pan: f32,
        tilt: f32,
        zoom: f32,
    ) -> Result<(), OnvifError> {
        self.ptz_log
            .lock()
            .unwrap()
            .push(format!("continuous_move {profile} {pan} {tilt} {zoom}"));
        Ok(())
    }
    async fn stop(&self, profile: &str, pan_tilt: bool, zoom: bool) -> Result<(), OnvifError> {
        self.ptz_log
            .lock()
            .unwrap()
            .push(format!("stop {profile} {pan_tilt} {zoom}"));
        Ok(())
    }
}

/// What the first PullMessages answer of a device carries on top of onvif-server's (empty)
/// answer: a tamper start, a motion stop and a digital input, as cameras word them.
const INJECTED_EVENTS: &str = concat!(
    r#"<wsnt:NotificationMessage xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tns1="http://www.onvif.org/ver10/topics">"#,
    r#"<wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">tns1:VideoSource/GlobalSceneChange/ImagingService</wsnt:Topic>"#,
    r#"<wsnt:Message><tt:Message UtcTime="2026-12-06T12:00:00Z" PropertyOperation="Changed">"#,
    r#"<tt:Source><tt:SimpleItem Name="Source" Value="vs_1"/></tt:Source>"#,
    r#"<tt:Data><tt:SimpleItem Name="State" Value="true"/></tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>"#,
    r#"<wsnt:NotificationMessage xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tns1="http://www.onvif.org/ver10/topics">"#,
    r#"<wsnt:Topic>tns1:VideoSource/MotionAlarm</wsnt:Topic>"#,
    r#"<wsnt:Message><tt:Message UtcTime="2026-12-06T12:00:01.500Z" PropertyOperation="Changed">"#,
    r#"<tt:Source><tt:SimpleItem Name="Source" Value="vs_1"/></tt:Source>"#,
    r#"<tt:Data><tt:SimpleItem Name="State" Value="false"/></tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>"#,
    r#"<wsnt:NotificationMessage xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tns1="http://www.onvif.org/ver10/topics">"#,
    r#"<wsnt:Topic>tns1:Device/Trigger/DigitalInput</wsnt:Topic>"#,
    r#"<wsnt:Message><tt:Message UtcTime="not a time">"#,
    r#"<tt:Source><tt:SimpleItem Name="InputToken" Value="DI_0"/></tt:Source>"#,
    r#"<tt:Key><tt:SimpleItem Name="Port" Value="1"/></tt:Key>"#,
    r#"<tt:Data><tt:SimpleItem Name="LogicalState" Value="true"/></tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>"#,
);

/// Adds INJECTED_EVENTS to the first PullMessages answer (after onvif-server checked the
/// credentials and the subscription).
async fn inject_events(
    injected: Arc<AtomicBool>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let pull = parts.uri.path().contains("events")
        && String::from_utf8_lossy(&body).contains("PullMessages>");
    let resp = next
        .run(axum::extract::Request::from_parts(
            parts,
            axum::body::Body::from(body),
        ))
        .await;
    if !pull || !resp.status().is_success() || injected.swap(true, Ordering::SeqCst) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&text).replacen(
        "</tev:PullMessagesResponse>",
        &format!("{INJECTED_EVENTS}</tev:PullMessagesResponse>"),
        1,
    );
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    axum::response::Response::from_parts(parts, axum::body::Body::from(text))
}

/// An ONVIF device on 127.0.0.1 with auth, serving `/snapshot/*.jpg`, and a unicast
/// WS-Discovery responder pointing at it; both stop when dropped.
pub struct Peers {
    pub xaddr: String,
    pub discovery: String,
    /// PTZ requests the device received, in order.
    pub ptz_log: Arc<Mutex<Vec<String>>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Peers {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

pub fn start_peers() -> Peers {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let ptz_log = Arc::new(Mutex::new(Vec::new()));
    let log = ptz_log.clone();
    let (xaddr, discovery) = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cam = Cam { port, ptz_log: log };
        let router = OnvifServer::builder()
            .port(port)
            .advertised_host("127.0.0.1")
            .device_service(cam.clone())
            .media_service(cam.clone())
            .ptz_service(cam.clone())
            .event_service(cam)
            .auth(ONVIF_USER, ONVIF_PASS)
            .build()
            .unwrap()
            .into_router()
            .unwrap();
        let jpeg: &'static [u8] = include_bytes!("../../../core/testdata/sim_snapshot.jpg");
        let injected = Arc::new(AtomicBool::new(false));
        let router = router
            .route(
                "/snapshot/{name}",
                axum::routing::get(move || async move {
                    ([(axum::http::header::CONTENT_TYPE, "image/jpeg")], jpeg)
                }),
            )
            .layer(axum::middleware::from_fn(move |req, next| {
                inject_events(injected.clone(), req, next)
            }));
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let xaddr = format!("http://127.0.0.1:{port}/onvif/device_service");
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let disc: SocketAddr = udp.local_addr().unwrap();
        let advertised = xaddr.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65536];
            while let Ok((n, from)) = udp.recv_from(&mut buf).await {
                let msg = &buf[..n];
                if !onvif_server::discovery_is_probe(msg) {
                    continue;
                }
                let text = String::from_utf8_lossy(msg);
                let Some(start) = text.find("MessageID>").map(|i| i + "MessageID>".len()) else {
                    continue;
                };
                let Some(len) = text[start..].find('<') else {
                    continue;
                };
                let reply = onvif_server::discovery_build_probe_match(
                    &text[start..start + len],
                    &advertised,
                    uuid::Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_00c7),
                );
                let _ = udp.send_to(reply.as_bytes(), from).await;
            }
        });
        (xaddr, disc.to_string())
    });
    Peers {
        xaddr,
        discovery,
        ptz_log,
        runtime: Some(rt),
    }
}

// ---- a GStreamer RTSP server (examples/tests/support/gst_rtsp_server.py) ----

pub struct Gst {
    child: Child,
    pub url: String,
}

impl Drop for Gst {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the GStreamer RTSP server on an MP4 made from the sim clip (ffmpeg, stream copy),
/// or None when GStreamer's RTSP server or ffmpeg is not installed (a failure under CI, whose
/// .ci/run installs them).
pub fn start_gst(dir: &Path) -> Option<Gst> {
    let gst = start_gst_inner(dir);
    if gst.is_none() && std::env::var_os("CI").is_some() {
        panic!("the GStreamer RTSP server could not start under CI");
    }
    gst
}

/// Starts the GStreamer RTSP server with audio: the sim clip (stream copy) with an 8 kHz
/// mu-law 440 Hz sine, sent as H.264 + PCMU (`gst_rtsp_server.py --audio pcmu`); None as for
/// [`start_gst`] (a failure under CI).
pub fn start_gst_with_audio(dir: &Path) -> Option<Gst> {
    let gst = start_gst_inner_with(dir, true);
    if gst.is_none() && std::env::var_os("CI").is_some() {
        panic!("the GStreamer RTSP server could not start under CI");
    }
    gst
}

fn start_gst_inner(dir: &Path) -> Option<Gst> {
    start_gst_inner_with(dir, false)
}

fn start_gst_inner_with(dir: &Path, pcmu: bool) -> Option<Gst> {
    if !have("ffmpeg") || !have("gst-inspect-1.0") {
        eprintln!("skipping the GStreamer peer: ffmpeg or GStreamer not installed");
        return None;
    }
    let clip = dir.join(if pcmu { "clip-pcmu.mov" } else { "clip.mp4" });
    let mut ff = Command::new("ffmpeg");
    ff.args(["-v", "error", "-y", "-framerate", "25", "-f", "h264", "-i"])
        .arg(root().join("core/testdata/sim_clip.h264"));
    if pcmu {
        // ffmpeg's mp4 muxer refuses mu-law: a .mov, as the server's qtdemux reads.
        ff.args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000"])
            .args([
                "-map",
                "0:v",
                "-map",
                "1:a",
                "-c:v",
                "copy",
                "-c:a",
                "pcm_mulaw",
            ])
            .arg("-shortest");
    } else {
        ff.args(["-c", "copy"]);
    }
    let o = ff.arg(&clip).output().expect("ffmpeg");
    assert_ok(&o, "ffmpeg remux of the sim clip");
    let mut server = Command::new("/usr/bin/python3");
    server
        .arg(root().join("examples/tests/support/gst_rtsp_server.py"))
        .arg(&clip);
    if pcmu {
        server.args(["--audio", "pcmu"]);
    }
    let mut child = server
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .ok()?;
    let stdout = child.stdout.take()?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut gst = Gst {
        child,
        url: String::new(),
    };
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(line) if line.starts_with("READY ") => {
            gst.url = line["READY ".len()..].trim().to_string();
            Some(gst)
        }
        other => {
            eprintln!("GStreamer RTSP server did not start: {other:?}");
            None
        }
    }
}

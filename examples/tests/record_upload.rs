//! `camwire record --upload` against a real S3 server (s3s-fs): killed with -9 while a PUT
//! body is on the wire (the killed runs reach the store through a proxy that passes 40 KB/s
//! upstream, so each segment's PUT takes about a second), restarted on the same root each
//! time, then a last run, straight to the store, that stops normally. Every segment on disk
//! is in the bucket exactly once with the same bytes, nothing else is (no torn object from a
//! cut PUT), each journal names each file once, and the last run's exit drained its backlog
//! (the segment its own stop closed included).

#[path = "../../core/tests/support/s3s_fs.rs"]
mod s3s_fs;
mod support;

use camwire::sim::{SimCamera, SimOptions};
use s3s_fs::{BUCKET, S3sFs};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::*;

const KEY: &str = "AKCAMWIRECLI";
const SECRET: &str = "SKcamwire/cli+secret";

fn sha_of_tree(dir: &Path) -> BTreeMap<String, String> {
    mp4_files(dir)
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            (rel, hex(&Sha256::digest(std::fs::read(&p).unwrap())))
        })
        .collect()
}

/// A TCP proxy to `target` that passes at most `rate` bytes/s from client to server (the
/// answers at full speed), and notes when it last passed request bytes.
struct SlowProxy {
    port: u16,
    last_up: Arc<Mutex<Option<Instant>>>,
}

impl SlowProxy {
    fn start(target: u16, rate: usize) -> SlowProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let last_up = Arc::new(Mutex::new(None));
        let noted = last_up.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let (mut c_rd, mut s_wr) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (mut s_rd, mut c_wr) = (server, client);
                let noted = noted.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 2048];
                    while let Ok(n) = c_rd.read(&mut buf) {
                        if n == 0 || s_wr.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        *noted.lock().unwrap() = Some(Instant::now());
                        std::thread::sleep(Duration::from_secs_f64(n as f64 / rate as f64));
                    }
                    let _ = s_wr.shutdown(std::net::Shutdown::Write);
                });
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut s_rd, &mut c_wr);
                    let _ = c_wr.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        SlowProxy { port, last_up }
    }

    /// Request bytes went through within the last `within`.
    fn sending(&self, within: Duration) -> bool {
        self.last_up
            .lock()
            .unwrap()
            .is_some_and(|t| t.elapsed() < within)
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn kill_9_during_uploads_then_restart_ships_every_segment_exactly_once() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt
        .block_on(SimCamera::start(SimOptions::default()))
        .unwrap();
    let url = sim.rtsp_url();
    let dir = tmpdir("record-upload");
    let root = dir.join("rec");
    let s3 = S3sFs::start(&dir.join("s3"), KEY, SECRET);
    let proxy = SlowProxy::start(s3.port, 40_000);
    let cmd = |extra: &[&str], endpoint: String| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_camwire"));
        c.args([
            "record",
            "--url",
            &url,
            "--camera-id",
            "k",
            "--segment-secs",
            "1",
        ])
        .arg("--out")
        .arg(&root)
        .args(["--upload", &format!("s3://{BUCKET}/site-a")])
        .args(extra)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_ALLOW_HTTP", "true");
        c
    };
    let slow = format!("http://127.0.0.1:{}", proxy.port);
    let mut mid_put = 0;
    for ms in [3300u64, 4100, 3500, 3900] {
        let mut child = cmd(&[], slow.clone())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(ms));
        let sending = proxy.sending(Duration::from_millis(100));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        mid_put += usize::from(sending);
    }
    eprintln!("{mid_put} of 4 kills fell while a PUT body was being sent");
    // The proxy saw request bytes flowing at (nearly) every kill: PUTs were cut mid-body.
    assert!(mid_put >= 2, "only {mid_put} of 4 kills fell during a PUT");
    let out = cmd(&["--duration", "3"], s3.endpoint()).output().unwrap();
    assert_ok(&out, "final camwire record");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains("0 file(s), 0 bytes still pending"),
        "the exit drained the backlog:\n{stdout}"
    );
    assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET));

    let local = sha_of_tree(&root.join("k"));
    let stored = sha_of_tree(&s3.data.join(BUCKET).join("site-a").join("k"));
    assert!(local.len() >= 5, "{} segments recorded", local.len());
    assert_eq!(stored, local, "the bucket holds exactly the local segments");
    // The journal names each segment once, and every one of them.
    let journal = std::fs::read_to_string(root.join("k").join("uploaded.jsonl")).unwrap();
    let mut named = Vec::new();
    for line in journal.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        named.push(v["file"].as_str().unwrap().to_string());
    }
    let unique: BTreeSet<_> = named.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        named.len(),
        "journal repeats a file: {named:?}"
    );
    assert_eq!(unique, local.keys().cloned().collect::<BTreeSet<_>>());
    for f in mp4_files(&root.join("k")) {
        assert_ffprobe_clean(&f);
    }
}

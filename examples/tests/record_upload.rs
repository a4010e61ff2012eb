//! `camwire record --upload` against a real S3 server (s3s-fs): killed with -9 at moments
//! that fall during uploads (1 s segments: one closes and ships every second), restarted on
//! the same root each time, then a last run that stops normally. Every segment on disk is
//! in the bucket exactly once with the same bytes, nothing else is, each journal names each
//! file once, and the last run's exit drained its backlog (the segment its own stop closed
//! included).

#[path = "../../core/tests/support/s3s_fs.rs"]
mod s3s_fs;
mod support;

use camwire::sim::{SimCamera, SimOptions};
use s3s_fs::{BUCKET, S3sFs};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
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
    let cmd = |extra: &[&str]| {
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
        .env("AWS_ENDPOINT_URL", s3.endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_ALLOW_HTTP", "true");
        c
    };
    for ms in [2300u64, 3100, 1700, 2900] {
        let mut child = cmd(&[])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    let out = cmd(&["--duration", "3"]).output().unwrap();
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

//! A real S3 server for tests: s3s-fs on loopback, started (and restartable) by the test.
//! Its binary is pinned and installed by `.ci/run` (`cargo install s3s-fs --version 0.14.1
//! --locked --features binary`); found at `$CAMWIRE_S3S_FS`, `$CARGO_HOME/bin`, `~/.cargo/bin`
//! or on `PATH`. Buckets are directories under its data directory, objects files under them,
//! so a test can damage a stored object by writing the file.
//!
//! Included with `#[path = "support/s3.rs"] mod s3_support;` by the tests that need it.
#![allow(dead_code)]

use camwire::record::upload::{S3Settings, UploadOptions, UploadStatus, Uploader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const KEY: &str = "AKCAMWIRETEST";
pub const SECRET: &str = "SKcamwire/test+secret";
pub const BUCKET: &str = "camwire";

pub fn s3s_fs_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("CAMWIRE_S3S_FS") {
        return p.into();
    }
    let mut tried = Vec::new();
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")));
    if let Some(h) = cargo_home {
        tried.push(h.join("bin/s3s-fs"));
    }
    if let Some(path) = std::env::var_os("PATH") {
        tried.extend(std::env::split_paths(&path).map(|d| d.join("s3s-fs")));
    }
    tried.iter().find(|p| p.exists()).cloned().unwrap_or_else(|| {
        panic!(
            "s3s-fs not found (tried {tried:?}): cargo install s3s-fs --version 0.14.1 --locked --features binary"
        )
    })
}

/// One s3s-fs process on a fixed loopback port, restartable on the same port and data.
pub struct Server {
    pub port: u16,
    pub data: PathBuf,
    child: Option<Child>,
}

impl Server {
    /// Starts s3s-fs over `data`, with bucket [`BUCKET`] created.
    pub fn start(data: &Path) -> Server {
        std::fs::create_dir_all(data.join(BUCKET)).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut s = Server {
            port,
            data: data.to_path_buf(),
            child: None,
        };
        s.restart();
        s
    }

    pub fn restart(&mut self) {
        assert!(self.child.is_none());
        let child = Command::new(s3s_fs_binary())
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", KEY, "--secret-key", SECRET])
            .arg(&self.data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn s3s-fs");
        self.child = Some(child);
        let t0 = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "s3s-fs did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, as a crashed store.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// Settings for `url` (`s3://bucket/prefix`) on this server, with the test credentials.
    pub fn settings(&self, url: &str) -> S3Settings {
        let mut s = S3Settings::from_url(url).unwrap();
        s.endpoint = Some(self.endpoint());
        s.region = Some("us-east-1".into());
        s.access_key_id = Some(KEY.into());
        s.secret_access_key = Some(SECRET.into());
        s.allow_http = true;
        s
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The standard AWS variables that reach this server (for a child process).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET.into()),
            ("AWS_ALLOW_HTTP", "true".into()),
        ]
    }

    /// The file s3s-fs keeps `key` (`prefix/camera/date/name`) of [`BUCKET`] in.
    pub fn object_file(&self, key: &str) -> PathBuf {
        self.data.join(BUCKET).join(key)
    }
}

/// Ships every segment of `cams` under `root` with camwire's uploader and returns once the
/// store has confirmed them all and every file of `also` (e.g. [`Server::object_file`] of a
/// `gaps.jsonl` object) exists. Polls the status rather than trusting `wait_idle` alone.
pub fn ship(root: &Path, s3: S3Settings, cams: &[&str], also: &[PathBuf]) -> UploadStatus {
    fn count(dir: &Path) -> u64 {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return 0;
        };
        rd.flatten()
            .map(|e| {
                let p = e.path();
                if p.is_dir() {
                    count(&p)
                } else {
                    u64::from(p.extension().is_some_and(|x| x == "mp4"))
                }
            })
            .sum()
    }
    let want: u64 = cams.iter().map(|c| count(&root.join(c))).sum();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut o = UploadOptions::new(s3);
        o.retry_initial = Duration::from_millis(200);
        o.rescan_interval = Duration::from_secs(1);
        let up = Uploader::start(root, o, None).unwrap();
        for c in cams {
            up.scan_camera(&root.join(c));
        }
        let t0 = Instant::now();
        loop {
            let st = up.status();
            let done: u64 = st.cameras.values().map(|c| c.uploaded_files).sum();
            if done == want && also.iter().all(|f| f.exists()) {
                up.shutdown().await;
                return st;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(120),
                "{done} of {want} shipped: {st:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

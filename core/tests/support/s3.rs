//! A real S3 server for tests: s3s-fs on loopback, started (and restartable) by the test.
//! Its binary is pinned and installed by `.ci/run` (`cargo install s3s-fs --version 0.14.1
//! --locked --features binary`); found at `$CAMWIRE_S3S_FS`, `$CARGO_HOME/bin`, `~/.cargo/bin`
//! or on `PATH`. Buckets are directories under its data directory, objects files under them,
//! so a test can damage a stored object by writing the file.
//!
//! Included with `#[path = "support/s3.rs"] mod s3_support;` by the tests that need it.
#![allow(dead_code)]

use camwire::record::upload::{S3Settings, UploadOptions, UploadStatus, Uploader};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const KEY: &str = "AKCAMWIRETEST";
pub const SECRET: &str = "SKcamwire/test+secret";

/// The process itself (std only, shared with the ffi and CLI tests).
#[path = "s3s_fs.rs"]
mod launcher;
pub use launcher::{BUCKET, S3sFs};

/// An [`S3sFs`] with this file's test keys, and what core's tests ask of it.
pub struct Server(S3sFs);

impl std::ops::Deref for Server {
    type Target = S3sFs;
    fn deref(&self) -> &S3sFs {
        &self.0
    }
}

impl std::ops::DerefMut for Server {
    fn deref_mut(&mut self) -> &mut S3sFs {
        &mut self.0
    }
}

impl Server {
    /// Starts s3s-fs over `data`, with bucket [`BUCKET`] created.
    pub fn start(data: &Path) -> Server {
        Server(S3sFs::start(data, KEY, SECRET))
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

//! A real S3 server for tests: one s3s-fs process (installed by .ci/run, pinned) on a
//! loopback port, storing each object as a file under its data directory, killed on drop.
//! Plain std, so any test crate can include it with `#[path]`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The bucket every test uses (created at start).
pub const BUCKET: &str = "camwire";

/// The s3s-fs binary: `$CAMWIRE_S3S_FS`, else `$CARGO_HOME/bin` (or `~/.cargo/bin`), else
/// `PATH`.
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

/// One s3s-fs process, restartable on the same port and data.
pub struct S3sFs {
    pub port: u16,
    pub data: PathBuf,
    key: String,
    secret: String,
    child: Option<Child>,
}

impl S3sFs {
    /// Starts a server over `data` (bucket [`BUCKET`] created) with these keys.
    pub fn start(data: &Path, key: &str, secret: &str) -> S3sFs {
        std::fs::create_dir_all(data.join(BUCKET)).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut s = S3sFs {
            port,
            data: data.to_path_buf(),
            key: key.into(),
            secret: secret.into(),
            child: None,
        };
        s.restart();
        s
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts the process again (after [`kill`](Self::kill)) on the same port and data.
    pub fn restart(&mut self) {
        assert!(self.child.is_none());
        let child = Command::new(s3s_fs_binary())
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", &self.key, "--secret-key", &self.secret])
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
}

impl Drop for S3sFs {
    fn drop(&mut self) {
        self.kill();
    }
}

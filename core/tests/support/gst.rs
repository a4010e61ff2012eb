//! The GStreamer peers of the integration tests (gst-rtsp-server in a child process, driven
//! by the Python scripts beside this file and in examples/tests/support), and the ffmpeg
//! checks that judge what camwire made of their streams.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A server script in a child process, killed on drop.
pub struct GstPeer {
    child: Child,
    /// The words after `READY` on the script's first line (its URLs).
    pub ready: Vec<String>,
}

impl GstPeer {
    /// Starts `/usr/bin/python3 <script> <args>` ([`script`] finds it by name) and waits for
    /// its `READY url...` line. Debian's `gi` is only in the system Python.
    pub fn start<S: AsRef<OsStr>>(name: &str, args: impl IntoIterator<Item = S>) -> GstPeer {
        let mut child = Command::new("/usr/bin/python3")
            .arg(script(name))
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the GStreamer server (python3-gst-1.0, gir1.2-gst-rtsp-server-1.0)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the READY line");
        let ready = line
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("{name} did not start: {line:?}"))
            .split_whitespace()
            .map(str::to_string)
            .collect();
        GstPeer { child, ready }
    }

    /// The first URL the server announced.
    pub fn url(&self) -> &str {
        &self.ready[0]
    }
}

impl Drop for GstPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server script by file name: core/tests/support, else examples/tests/support.
pub fn script(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let here = root.join("tests/support").join(name);
    if here.exists() {
        here
    } else {
        root.join("../examples/tests/support").join(name)
    }
}

/// Where test clips are cached (encoded once per target dir; encodes are single-threaded, so
/// racing test processes write the same bytes and a rename is all the coordination needed).
pub fn clip_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("clips");
    std::fs::create_dir_all(&dir).expect("clip dir");
    dir
}

/// Per-frame MD5s of the first video stream, decoded, in presentation order; ffmpeg must say
/// nothing while decoding.
pub fn video_md5s(input: &Path) -> Vec<String> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(input)
        .args(["-map", "0:v:0", "-f", "framemd5", "-"])
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}: {}",
        input.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit(',').next().map(|h| h.trim().to_string()))
        .collect()
}

/// `ffmpeg -v error -i F -f null -` prints nothing.
pub fn assert_decodes_cleanly(f: &Path) {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(f)
        .args(["-f", "null", "-"])
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}: {}",
        f.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

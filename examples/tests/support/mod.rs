//! Shared pieces of the CLI integration tests: fixture clips, the GStreamer RTSP server, and
//! the validators written by others (ffmpeg, ffprobe, GStreamer's qtdemux).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn camwire(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_camwire"))
        .args(args)
        .output()
        .expect("run camwire")
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

pub fn tmpdir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("mkdir");
    d
}

/// An x264 MP4 of ffmpeg's testsrc2, made once per machine and cached in the target dir:
/// `secs` seconds of `w`x`h` at 25 fps, GOP 2 s, no B-frames (like cameras), `kbps` kbit/s.
pub fn clip(w: u32, h: u32, secs: u32, kbps: u32) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("clips");
    std::fs::create_dir_all(&dir).expect("mkdir clips");
    let path = dir.join(format!("testsrc2-{w}x{h}-{secs}s-{kbps}k.mp4"));
    if path.exists() {
        return path;
    }
    // Tests run as parallel processes. Two encodes of the same clip are not guaranteed to be
    // bit-identical (x264 threads), so exactly one process makes it, under an exclusive lock,
    // and the others wait and use that file: a test must compare against the very bytes its
    // server streams.
    let lock = std::fs::File::create(dir.join(format!(
        "{}.lock",
        path.file_name().unwrap().to_string_lossy()
    )))
    .expect("create clip lock");
    lock.lock().expect("lock clip");
    if path.exists() {
        return path;
    }
    let part = dir.join(format!(
        "{}.{}.part.mp4",
        path.display().to_string().len(),
        std::process::id()
    ));
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size={w}x{h}:rate=25"))
        .args([
            "-t",
            &secs.to_string(),
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-bf",
            "0",
        ])
        .args([
            "-g",
            "50",
            "-keyint_min",
            "50",
            "-sc_threshold",
            "0",
            "-pix_fmt",
            "yuv420p",
        ])
        .args([
            "-b:v",
            &format!("{kbps}k"),
            "-maxrate",
            &format!("{kbps}k"),
            "-bufsize",
        ])
        .arg(format!("{}k", kbps * 2))
        .arg(&part)
        .output()
        .expect("run ffmpeg");
    assert_ok(&out, "ffmpeg making the fixture clip");
    std::fs::rename(&part, &path).expect("rename clip");
    path
}

/// A GStreamer RTSP server (examples/tests/support/gst_rtsp_server.py) in a child process.
pub struct GstServer {
    child: Child,
    pub url: String,
}

impl GstServer {
    pub fn start(file: &Path) -> GstServer {
        Self::start_with(file, &[])
    }

    /// With more arguments for the script (`--video h265`, `--audio pcmu`, ...).
    pub fn start_with(file: &Path, args: &[&str]) -> GstServer {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/gst_rtsp_server.py");
        let mut child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(file)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the GStreamer RTSP server (apt-get install python3-gst-1.0 gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp)");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read server line");
        let url = line
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("server did not start: {line:?}"))
            .trim()
            .to_string();
        GstServer { child, url }
    }
}

impl Drop for GstServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The per-frame MD5s of the decoded video of `inputs` (concatenated in order), via
/// `ffmpeg -f framemd5`: equal lists mean equal decoded pictures, frame for frame.
pub fn framemd5(inputs: &[PathBuf]) -> Vec<String> {
    let mut all = Vec::new();
    for input in inputs {
        let out = Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(input)
            .args(["-map", "0:v:0", "-f", "framemd5", "-"])
            .output()
            .expect("run ffmpeg");
        assert_ok(&out, &format!("ffmpeg framemd5 of {}", input.display()));
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if line.starts_with('#') {
                continue;
            }
            if let Some(h) = line.rsplit(',').next() {
                all.push(h.trim().to_string());
            }
        }
    }
    all
}

/// `ffmpeg -v error -i F -f null -` prints nothing: every frame decodes cleanly.
pub fn assert_decodes_cleanly(f: &Path) {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(f)
        .args(["-f", "null", "-"])
        .output()
        .expect("run ffmpeg");
    assert_ok(&out, "ffmpeg decode");
    assert!(
        out.stderr.is_empty(),
        "{}: ffmpeg says {}",
        f.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// ffprobe reads the file without a complaint and finds one H.264 video stream.
pub fn assert_ffprobe_clean(f: &Path) {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,width,height",
            "-of",
            "csv=p=0",
        ])
        .arg(f)
        .output()
        .expect("run ffprobe");
    assert_ok(&out, "ffprobe");
    assert!(
        out.stderr.is_empty(),
        "{}: ffprobe says {}",
        f.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("h264,"),
        "{}: {:?}",
        f.display(),
        out
    );
}

/// GStreamer's qtdemux (via gst-discoverer-1.0) reads the file and finds H.264 video.
pub fn assert_gst_reads(f: &Path) {
    let out = Command::new("gst-discoverer-1.0")
        .arg(f)
        .output()
        .expect("run gst-discoverer-1.0 (apt-get install gstreamer1.0-tools)");
    assert_ok(&out, "gst-discoverer-1.0");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("H.264"), "{}: {text}", f.display());
    assert!(
        !text.contains("error") && !text.contains("Error"),
        "{}: {text}",
        f.display()
    );
}

/// Every `.mp4` under `dir`, sorted by path (which is by start time, names are UTC times).
pub fn mp4_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "mp4") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

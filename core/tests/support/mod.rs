//! Helpers shared by core's integration tests: scratch directories, finding recorded files,
//! and the ffmpeg/ffprobe checks that judge them (validators written by others, not us).
#![allow(dead_code)]

pub mod av;
pub mod gst;

use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh scratch directory `target/tmp/<name>-<pid>`.
pub fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Every `.mp4` under `dir`, sorted by path (file names are UTC start times).
pub fn mp4_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p)
            } else if p.extension().is_some_and(|x| x == "mp4") {
                out.push(p)
            }
        }
    }
    out.sort();
    out
}

/// `ffprobe -v error` reads `f` without a word and finds one H.264 stream.
pub fn assert_ffprobe_silent(f: &Path) {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name",
            "-of",
            "csv=p=0",
        ])
        .arg(f)
        .output()
        .expect("ffprobe");
    assert!(out.status.success(), "{}: {out:?}", f.display());
    assert!(
        out.stderr.is_empty(),
        "{}: {}",
        f.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "h264",
        "{}",
        f.display()
    );
}

/// ffmpeg decodes every frame of `f` without a message; returns the frame count.
pub fn decoded_frames(f: &Path) -> usize {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(f)
        .args(["-f", "framemd5", "-"])
        .output()
        .expect("ffmpeg");
    assert!(out.status.success(), "{}: {:?}", f.display(), out);
    assert!(
        out.stderr.is_empty(),
        "{}: {}",
        f.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .count()
}

/// A tmpfs mounted on a directory for the test's life (a small disk to fill).
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` (`mount -o size=`, e.g. `3m`) on `dir`; `None` (after a
    /// note) where mounting is not possible (not root): the caller skips its test.
    pub fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output();
        if out.as_ref().is_ok_and(|o| o.status.success()) {
            Some(Tmpfs(dir.to_path_buf()))
        } else {
            println!("NOTE: cannot mount a tmpfs ({out:?}); test skipped");
            None
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// Polls `f` every 100 ms until it holds (true) or `limit` passes (false).
pub async fn wait_for(limit: std::time::Duration, mut f: impl FnMut() -> bool) -> bool {
    let t = std::time::Instant::now();
    while t.elapsed() < limit {
        if f() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

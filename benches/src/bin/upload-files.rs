//! Ships every `<camera>/<date>/<name>.mp4` under a root with camwire's uploader (the one the
//! recorder runs: SHA-256, create-only PUT with its checksum, journal), then exits; for
//! `benches/upload.py`, which measures its CPU against curl's on the same files.
//!
//! `upload-files --endpoint URL --url s3://bucket/prefix [--concurrency N] ROOT`, keys from
//! AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. Prints `files N bytes B wall_s W`.

use camwire::record::upload::{S3Settings, UploadOptions, Uploader};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn segments(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let dirs = |p: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(p)
            .map(|r| r.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        v.sort();
        v
    };
    for cam in dirs(root).into_iter().filter(|p| p.is_dir()) {
        for day in dirs(&cam).into_iter().filter(|p| p.is_dir()) {
            out.extend(
                dirs(&day)
                    .into_iter()
                    .filter(|p| p.extension().is_some_and(|e| e == "mp4")),
            );
        }
    }
    out
}

fn main() -> Result<(), String> {
    let (mut endpoint, mut url, mut concurrency, mut root) = (None, None, 4usize, None);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--endpoint" => endpoint = args.next(),
            "--url" => url = args.next(),
            "--concurrency" => {
                concurrency = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--concurrency needs a number")?
            }
            _ => root = Some(PathBuf::from(a)),
        }
    }
    let root = root.ok_or("usage: upload-files --endpoint URL --url s3://b/p ROOT")?;
    let mut s3 = S3Settings::from_env(&url.ok_or("--url needed")?).map_err(|e| e.to_string())?;
    s3.endpoint = endpoint;
    s3.allow_http = true;
    let mut opts = UploadOptions::new(s3);
    opts.concurrency = concurrency;
    let files = segments(&root);
    let bytes: u64 = files
        .iter()
        .map(|f| f.metadata().map(|m| m.len()).unwrap_or(0))
        .sum();
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    rt.block_on(async {
        let up = Uploader::start(&root, opts, None).map_err(|e| e.to_string())?;
        for f in &files {
            up.enqueue(f);
        }
        let drained = up.wait_idle(Duration::from_secs(3600)).await;
        let st = up.status();
        up.shutdown().await;
        let shipped: u64 = st.cameras.values().map(|c| c.uploaded_files).sum();
        if !drained || shipped != files.len() as u64 {
            return Err(format!(
                "shipped {shipped} of {} files: {st:?}",
                files.len()
            ));
        }
        Ok(())
    })?;
    println!(
        "files {} bytes {bytes} wall_s {:.3}",
        files.len(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

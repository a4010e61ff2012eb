//! retina alone, as a recorder peer in peers.sh: every URL in one process (tokio
//! multi-thread runtime, one task per stream, as `camwire record` runs).
//!
//! `retina-record --mode raw|demuxed --duration SECS --out DIR URL...`
//! - `raw`: retina's transport only: each RTP packet's payload (`into_payload_bytes`)
//!   appended to `DIR/retina-I.rtp` through a 256 KiB buffer;
//! - `demuxed`: retina's `demuxed()` frames (length-prefixed AVC) appended to
//!   `DIR/retina-I.avc` through the same buffer.
//!
//! Ends after the duration (retina does not stop on RTCP BYE) and prints frames per stream.

use futures::StreamExt;
use retina::client::{PacketItem, PlayOptions, Session, SessionOptions, SetupOptions, Transport};
use retina::codec::CodecItem;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

async fn record(
    url: String,
    out: PathBuf,
    demuxed: bool,
    frames: Arc<AtomicU64>,
) -> Result<(), String> {
    let parsed = url::Url::parse(&url).map_err(|e| e.to_string())?;
    let mut session = Session::describe(parsed, SessionOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    let video = session
        .streams()
        .iter()
        .position(|s| s.media() == "video")
        .ok_or("no video stream")?;
    session
        .setup(
            video,
            SetupOptions::default().transport(Transport::Tcp(Default::default())),
        )
        .await
        .map_err(|e| e.to_string())?;
    let playing = session
        .play(PlayOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    let mut file = BufWriter::with_capacity(256 << 10, create(&out)?);
    if demuxed {
        let mut s = Box::pin(playing.demuxed().map_err(|e| e.to_string())?);
        while let Some(item) = s.next().await {
            if let CodecItem::VideoFrame(f) = item.map_err(|e| e.to_string())? {
                frames.fetch_add(1, Ordering::Relaxed);
                file.write_all(f.data()).map_err(|e| e.to_string())?;
            }
        }
    } else {
        let mut s = Box::pin(playing);
        while let Some(item) = s.next().await {
            if let PacketItem::Rtp(p) = item.map_err(|e| e.to_string())? {
                frames.fetch_add(u64::from(p.mark()), Ordering::Relaxed);
                file.write_all(&p.into_payload_bytes())
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    file.flush().map_err(|e| e.to_string())
}

fn create(p: &Path) -> Result<std::fs::File, String> {
    std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()))
}

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (mut duration, mut dir, mut demuxed, mut urls) =
        (60.0f64, PathBuf::from("."), false, vec![]);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--duration" => {
                duration = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--duration needs seconds")?
            }
            "--out" => dir = PathBuf::from(args.next().ok_or("--out needs a directory")?),
            "--mode" => match args.next().as_deref() {
                Some("raw") => demuxed = false,
                Some("demuxed") => demuxed = true,
                _ => return Err("--mode raw|demuxed".into()),
            },
            _ => urls.push(a),
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let ext = if demuxed { "avc" } else { "rtp" };
        let tasks: Vec<_> = urls
            .iter()
            .enumerate()
            .map(|(i, url)| {
                let out = dir.join(format!("retina-{}.{ext}", i + 1));
                let url = url.clone();
                let frames = Arc::new(AtomicU64::new(0));
                let counter = frames.clone();
                let task = tokio::spawn(async move {
                    let rec = record(url, out, demuxed, counter);
                    tokio::time::timeout(Duration::from_secs_f64(duration), rec).await
                });
                (task, frames)
            })
            .collect();
        let mut failed = 0;
        for (url, (t, frames)) in urls.iter().zip(tasks) {
            let r = t.await;
            let n = frames.load(Ordering::Relaxed);
            match r {
                // Timed out: the normal end (the dropped BufWriter flushes).
                Ok(Err(_elapsed)) => println!("{url}: {n} frames (stopped after {duration} s)"),
                Ok(Ok(Ok(()))) => println!("{url}: {n} frames (stream ended)"),
                Ok(Ok(Err(e))) => {
                    failed += 1;
                    eprintln!("{url}: {e}");
                }
                Err(e) => {
                    failed += 1;
                    eprintln!("{url}: {e}");
                }
            }
        }
        if failed > 0 {
            return Err(format!("{failed} stream(s) failed"));
        }
        Ok(())
    })
}

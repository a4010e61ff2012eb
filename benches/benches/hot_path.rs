//! camwire's hot path against retina's, on the same committed captures, in the same run.
//!
//! Captures: the committed GStreamer 1080p H.264 and sim captures, and an x265 1080p H.265
//! capture made on first use (`camwire_benches::h265_capture`, needs ffmpeg with libx265).
//! For each capture, three jobs, each done by camwire and by retina side by side:
//! - `depacketize`: RTP packets to frames (camwire: access units of `Bytes` slices, recycled;
//!   retina: its depacketizer's `VideoFrame`s, each a fresh `Vec`), frames discarded;
//! - `mux_sink`: camwire depacketizes and muxes fMP4 fragments into `io::sink()`; retina
//!   depacketizes and writes each frame into `io::sink()`;
//! - `to_file`: camwire's `replay` (the recorder's `Ingest`) into an MP4 file; retina's
//!   depacketize-and-write-frames into a file (its own benchmark's job, to a real file).
//!
//! Throughput is in bytes of RTP payload. `cargo bench -p camwire-benches` runs it (about three
//! minutes; `-- x265` runs only the H.265 group); `CAMWIRE_BENCH_SECS` changes the measurement time per bench (default 3).

use camwire_benches::{
    Capture, camwire_depacketize, camwire_mux, camwire_replay, h265_capture, retina_depacketize,
    retina_write_frames, testdata,
};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

fn captures() -> Vec<Capture> {
    let mut prefixes: Vec<_> = ["gst_1080p_capture", "sim_capture"]
        .iter()
        .map(|name| testdata(name))
        .collect();
    match h265_capture() {
        Ok(p) => prefixes.push(p),
        Err(e) => eprintln!("skipping the H.265 capture: {e}"),
    }
    prefixes
        .into_iter()
        .filter_map(|prefix| match Capture::load(&prefix) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("skipping {}: {e}", prefix.display());
                None
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let secs: f64 = std::env::var("CAMWIRE_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let tmp = std::env::temp_dir().join(format!("camwire-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    for cap in captures() {
        let mut g = c.benchmark_group(cap.name.as_str());
        g.measurement_time(Duration::from_secs_f64(secs))
            .warm_up_time(Duration::from_millis(500))
            .sample_size(20)
            .throughput(Throughput::Bytes(cap.payload_bytes));

        let frames = camwire_depacketize(&cap);
        assert_eq!(frames, retina_depacketize(&cap, |_| ()), "same frames");

        g.bench_function(BenchmarkId::new("depacketize", "camwire"), |b| {
            b.iter(|| black_box(camwire_depacketize(&cap)))
        });
        g.bench_function(BenchmarkId::new("depacketize", "retina"), |b| {
            b.iter(|| {
                black_box(retina_depacketize(&cap, |f| {
                    black_box(f.data().len());
                }))
            })
        });

        g.bench_function(BenchmarkId::new("mux_sink", "camwire"), |b| {
            b.iter(|| camwire_mux(&cap, &mut std::io::sink()).expect("mux"))
        });
        g.bench_function(BenchmarkId::new("mux_sink", "retina"), |b| {
            b.iter(|| retina_write_frames(&cap, &mut std::io::sink()).expect("write"))
        });

        let camwire_out = tmp.join(format!("{}-camwire.mp4", cap.name));
        let ext = if cap.is_h265() { "h265" } else { "h264" };
        let retina_out = tmp.join(format!("{}-retina.{ext}", cap.name));
        g.bench_function(BenchmarkId::new("to_file", "camwire"), |b| {
            b.iter(|| {
                let n = camwire_replay(&cap, &camwire_out).expect("replay");
                assert_eq!(n, frames);
            })
        });
        g.bench_function(BenchmarkId::new("to_file", "retina"), |b| {
            b.iter(|| {
                // As `replay` does: a fresh file (truncating a just-written one makes ext4
                // flush it on close, which would charge retina for a disk write).
                let _ = std::fs::remove_file(&retina_out);
                let mut f = std::fs::File::create(&retina_out).expect("create");
                let n = retina_write_frames(&cap, &mut f).expect("write");
                assert_eq!(n, frames);
            })
        });
        g.finish();
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

criterion_group!(benches, bench);
criterion_main!(benches);

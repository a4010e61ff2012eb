//! Packet loss, reordering and duplicates (issue 16), on a real stream: an 8 s 1280x720 H.264
//! clip (GOP 2 s, 25 fps) sent by ffmpeg's RTP packetizer, captured once (cached in the target
//! dir), then edited with the seeded lossy path (`camwire::rtp::lossy`) and replayed.
//!
//! Judged by software written by others: ffmpeg's per-packet MD5s of the source clip (`-c copy
//! -f framemd5`) against the recording's, ffmpeg decoding, ffprobe reading the file silently.

mod support;

use std::io::Write;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use camwire::fmp4::{read_fragment_samples, scan_fragments};
use camwire::record::replay::{ReplayReport, replay_with};
use camwire::rtp::lossy::{ImpairmentOptions, impair_capture};
use camwire::rtp::{DepacketizerOptions, LossPolicy};

const FPS: f64 = 25.0;

fn clips_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("clips");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Blocks until the exclusive lock on `path` is free (another test is making the clip).
fn wait_exclusive(path: &Path) -> camwire::filelock::FileHold {
    loop {
        if let Some(h) = camwire::filelock::try_exclusive(path).unwrap() {
            return h;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Runs `make` once per machine under an exclusive lock, unless `done` exists.
fn cached(done: &Path, make: impl FnOnce()) {
    if done.exists() {
        return;
    }
    let lock_path = done.with_extension("lock");
    std::fs::File::create(&lock_path).unwrap();
    // flock through camwire's own helper: std's File::lock needs Rust 1.89 (MSRV is 1.88).
    let _lock = camwire::filelock::try_exclusive(&lock_path)
        .unwrap()
        .unwrap_or_else(|| wait_exclusive(&lock_path));
    if !done.exists() {
        make();
    }
}

/// The 8 s 1280x720 x264 clip (the same file and name as the CLI tests' fixture).
fn clip() -> PathBuf {
    let path = clips_dir().join("testsrc2-1280x720-8s-1500k.mp4");
    cached(&path, || {
        let part = path.with_extension("part.mp4");
        let out = Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
            .arg("testsrc2=size=1280x720:rate=25")
            .args([
                "-t", "8", "-c:v", "libx264", "-preset", "veryfast", "-bf", "0",
            ])
            .args(["-g", "50", "-keyint_min", "50", "-sc_threshold", "0"])
            .args(["-pix_fmt", "yuv420p", "-b:v", "1500k", "-maxrate", "1500k"])
            .args(["-bufsize", "3000k"])
            .arg(&part)
            .output()
            .expect("ffmpeg");
        assert!(out.status.success(), "{out:?}");
        std::fs::rename(&part, &path).unwrap();
    });
    path
}

/// Two adjacent loopback UDP ports (RTP, RTCP).
fn port_pair() -> (UdpSocket, UdpSocket) {
    for _ in 0..50 {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let p = a.local_addr().unwrap().port();
        if p.is_multiple_of(2)
            && let Ok(b) = UdpSocket::bind(("127.0.0.1", p + 1))
        {
            return (a, b);
        }
    }
    panic!("no adjacent UDP ports");
}

/// ffmpeg's RTP packetizer sending the clip to us; returns (SDP, interleaved capture with the
/// RTP packets on channel 0), cached.
fn ffmpeg_capture() -> (Vec<u8>, Bytes) {
    let sdp = clips_dir().join("ffmpeg-rtp-1280x720-8s.sdp");
    let rtp = clips_dir().join("ffmpeg-rtp-1280x720-8s.rtp");
    let src = clip();
    cached(&rtp, || {
        for readrate in ["4", "1"] {
            let (sock, rtcp) = port_pair();
            sock.set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            let port = sock.local_addr().unwrap().port();
            let mut child = Command::new("ffmpeg")
                .args(["-v", "error", "-y", "-readrate", readrate, "-i"])
                .arg(&src)
                .args(["-an", "-c", "copy", "-f", "rtp", "-sdp_file"])
                .arg(&sdp)
                .arg(format!("rtp://127.0.0.1:{port}?rtcpport={}", port + 1))
                .spawn()
                .expect("ffmpeg");
            let mut packets: Vec<Vec<u8>> = Vec::new();
            let mut buf = vec![0u8; 65536];
            let mut quiet_since = Instant::now();
            loop {
                match sock.recv(&mut buf) {
                    Ok(n) => {
                        packets.push(buf[..n].to_vec());
                        quiet_since = Instant::now();
                    }
                    Err(_) => {
                        let exited = child.try_wait().unwrap().is_some();
                        if exited && quiet_since.elapsed() > Duration::from_millis(300) {
                            break;
                        }
                    }
                }
            }
            drop(rtcp);
            assert!(child.wait().unwrap().success(), "ffmpeg RTP sender failed");
            let seqs: Vec<u16> = packets
                .iter()
                .map(|p| u16::from_be_bytes([p[2], p[3]]))
                .collect();
            let complete = seqs.windows(2).all(|w| w[1] == w[0].wrapping_add(1));
            if complete && packets.len() > 500 {
                let mut out = Vec::new();
                for p in &packets {
                    camwire::capture::write_frame(&mut out, 0, p).unwrap();
                }
                let part = rtp.with_extension("part");
                std::fs::File::create(&part)
                    .and_then(|mut f| f.write_all(&out))
                    .unwrap();
                std::fs::rename(&part, &rtp).unwrap();
                return;
            }
            eprintln!("capture at readrate {readrate} missed packets; again, slower");
        }
        panic!("could not capture ffmpeg's RTP stream without loss on loopback");
    });
    (
        std::fs::read(&sdp).unwrap(),
        Bytes::from(std::fs::read(&rtp).unwrap()),
    )
}

/// ffmpeg's MD5 of each packet's bytes (`-c copy`), with its frame number (pts × 25).
fn packet_md5s(f: &Path) -> Vec<(i64, String)> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(f)
        .args(["-map", "0:v:0", "-c", "copy", "-f", "framemd5", "-"])
        .output()
        .expect("ffmpeg");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut tb = (1.0, 1.0);
    let mut rows = Vec::new();
    for line in text.lines() {
        if let Some(t) = line.strip_prefix("#tb 0: ") {
            let (n, d) = t.trim().split_once('/').unwrap();
            tb = (n.parse().unwrap(), d.parse().unwrap());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split(',').map(str::trim).collect();
        let pts: f64 = cols[2].parse().unwrap();
        let frame = (pts * tb.0 / tb.1 * FPS).round() as i64;
        rows.push((frame, cols[5].to_string()));
    }
    rows
}

/// Frames ffmpeg decodes (concealment messages allowed).
fn decoded_frames(f: &Path) -> usize {
    let out = Command::new("ffmpeg")
        .args(["-v", "quiet", "-i"])
        .arg(f)
        .args(["-map", "0:v:0", "-f", "framemd5", "-"])
        .output()
        .expect("ffmpeg");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .count()
}

/// The recording's samples: (lost packets before it, damaged) in file order.
fn loss_flags(f: &Path) -> Vec<(u32, bool)> {
    let mut file = std::fs::File::open(f).unwrap();
    let scan = scan_fragments(&mut file).unwrap();
    assert!(scan.tail_error.is_none());
    let mut out = Vec::new();
    for fr in &scan.fragments {
        for s in read_fragment_samples(&mut file, fr, &scan.defaults).unwrap() {
            out.push((s.lost_packets, s.damaged));
        }
    }
    out
}

/// Frames (by RTP timestamp) none of whose packets was dropped.
fn frames_arrived_whole(capture: &Bytes, dropped: &[u16]) -> usize {
    let mut all = std::collections::BTreeSet::new();
    let mut hit = std::collections::BTreeSet::new();
    for f in camwire::capture::Reader::new(capture.clone()) {
        let f = f.unwrap();
        if f.channel != 0 {
            continue;
        }
        let seq = u16::from_be_bytes([f.data[2], f.data[3]]);
        let ts = u32::from_be_bytes([f.data[4], f.data[5], f.data[6], f.data[7]]);
        all.insert(ts);
        if dropped.contains(&seq) {
            hit.insert(ts);
        }
    }
    all.len() - hit.len()
}

struct Outcome {
    report: ReplayReport,
    file: PathBuf,
    /// (frame number in the source, identical to the source's packet, flags)
    frames: Vec<(i64, bool, (u32, bool))>,
}

fn replay_impaired(name: &str, opts: ImpairmentOptions, policy: LossPolicy) -> (Outcome, usize) {
    let (sdp, cap) = ffmpeg_capture();
    let (edited, dropped, stats) = impair_capture(cap.clone(), 0, opts);
    eprintln!("{name}: path {stats:?}");
    let dir = support::tmp(name);
    let file = dir.join("out.mp4");
    let report = replay_with(
        &sdp,
        Bytes::from(edited),
        &file,
        DepacketizerOptions {
            loss_policy: policy,
            ..DepacketizerOptions::default()
        },
    )
    .expect("replay");
    assert_eq!(report.files, std::slice::from_ref(&file));
    let source = packet_md5s(&clip());
    assert_eq!(source.len(), 200);
    let got = packet_md5s(&file);
    let flags = loss_flags(&file);
    assert_eq!(got.len(), flags.len());
    // The recording's timeline starts at its first frame: find it in the source.
    let first = source
        .iter()
        .find(|s| s.1 == got[0].1)
        .map(|s| s.0)
        .expect("the first recorded frame is a whole source frame");
    let frames = got
        .iter()
        .zip(flags)
        .map(|((n, md5), fl)| {
            let n = n + first;
            let same = source.iter().any(|s| s.0 == n && &s.1 == md5);
            (n, same, fl)
        })
        .collect();
    let whole = frames_arrived_whole(&cap, &dropped);
    (
        Outcome {
            report,
            file,
            frames,
        },
        whole,
    )
}

#[test]
fn one_percent_loss_keeps_every_frame_that_arrived() {
    let opts = ImpairmentOptions {
        seed: 16,
        drop: 0.01,
        ..ImpairmentOptions::default()
    };
    let (o, whole) = replay_impaired("loss-keep", opts, LossPolicy::Keep);
    let d = &o.report.depacketizer;
    let recorded = o.frames.len();
    let identical = o.frames.iter().filter(|f| f.1).count();
    let flagged = o.frames.iter().filter(|f| f.2.1).count();
    let decoded = decoded_frames(&o.file);
    eprintln!(
        "keep: {} packets lost; {recorded} of 200 frames recorded ({identical} byte-identical, \
         {flagged} flagged damaged); {whole} frames arrived whole; ffmpeg decodes {decoded}",
        d.lost_packets
    );
    assert!(d.lost_packets >= 8, "{d:?}");
    assert!(recorded >= 175, "{recorded} frames recorded");
    assert!(
        recorded >= whole,
        "every frame that arrived whole is recorded"
    );
    for (n, same, (_, damaged)) in &o.frames {
        assert!(
            *same || *damaged,
            "frame {n} differs from the source and is not flagged"
        );
    }
    assert!(decoded >= 175, "ffmpeg decodes {decoded}");
    // The loss is a fact in the file: lost packets counted in its loss tables.
    let lost_in_file: u64 = o.frames.iter().map(|f| u64::from(f.2.0)).sum();
    assert_eq!(lost_in_file, d.lost_packets);
    support::assert_ffprobe_silent(&o.file);
    let gst = Command::new("gst-discoverer-1.0").arg(&o.file).output();
    if let Ok(gst) = gst {
        let text = String::from_utf8_lossy(&gst.stdout);
        assert!(gst.status.success() && text.contains("H.264"), "{text}");
    }
}

#[test]
fn skip_to_keyframe_policy_still_drops_to_the_next_idr() {
    let opts = ImpairmentOptions {
        seed: 16,
        drop: 0.01,
        ..ImpairmentOptions::default()
    };
    let (o, whole) = replay_impaired("loss-skip", opts, LossPolicy::SkipToKeyframe);
    let recorded = o.frames.len();
    eprintln!("skip-to-keyframe: {recorded} of 200 frames recorded; {whole} arrived whole");
    assert!(o.frames.iter().all(|f| f.1 && !f.2.1), "only intact frames");
    assert!(
        recorded < whole,
        "frames after a loss wait for the next IDR"
    );
    // Every recorded frame after a loss is a keyframe's GOP: frame numbers resume at a
    // multiple of 50 after each hole.
    for w in o.frames.windows(2) {
        if w[1].0 != w[0].0 + 1 {
            assert_eq!(w[1].0 % 50, 0, "resumed at frame {}", w[1].0);
        }
    }
}

#[test]
fn reordered_and_duplicated_packets_give_every_frame_identical() {
    let opts = ImpairmentOptions {
        seed: 3,
        drop: 0.0,
        reorder: 0.03,
        max_reorder: 10,
        duplicate: 0.01,
    };
    let (o, _) = replay_impaired("reorder-dup", opts, LossPolicy::Keep);
    let d = &o.report.depacketizer;
    eprintln!(
        "reorder+dup: {} reordered, {} duplicates dropped, {} frames",
        d.reordered_packets,
        d.duplicate_packets,
        o.frames.len()
    );
    assert!(d.reordered_packets > 10 && d.duplicate_packets > 3, "{d:?}");
    assert_eq!((d.lost_packets, d.late_packets), (0, 0), "{d:?}");
    assert_eq!(o.frames.len(), 200);
    assert!(
        o.frames
            .iter()
            .enumerate()
            .all(|(i, f)| f.0 == i as i64 && f.1 && f.2 == (0, false)),
        "every frame identical to the source, nothing flagged"
    );
    support::assert_ffprobe_silent(&o.file);
}

#[test]
fn export_across_loss_names_damaged_ranges_and_verifies() {
    let (sdp, cap) = ffmpeg_capture();
    let opts = ImpairmentOptions {
        seed: 16,
        drop: 0.01,
        ..ImpairmentOptions::default()
    };
    let (edited, _, _) = impair_capture(cap, 0, opts);
    let root = support::tmp("loss-export");
    let video = camwire::rtsp::sdp::h264_section(&sdp).unwrap();
    let mut ingest = camwire::record::Ingest::new(
        &video,
        camwire::record::segment::Naming::CameraDir {
            root: root.clone(),
            camera_id: "cam".into(),
        },
        camwire::record::segment::SegmentOptions::default(),
        DepacketizerOptions::default(),
    );
    let now = camwire::record::clock::system_time_to_ntp(SystemTime::now());
    for f in camwire::capture::Reader::new(Bytes::from(edited)) {
        let f = f.unwrap();
        if f.channel == 0 {
            ingest
                .on_rtp(camwire::rtp::RtpPacket::parse(f.data).unwrap(), now)
                .unwrap();
        }
    }
    ingest.finish(now).unwrap();
    let lost = ingest.depacketizer_stats().lost_packets;
    assert!(lost > 0);

    let listing = camwire::export::ranges(&root, "cam", None, None).unwrap();
    let json = listing.to_json();
    eprintln!("ls --json: {json}");
    assert_eq!(json["lost_packets"].as_u64(), Some(lost));
    let damaged = json["damaged"].as_array().unwrap();
    assert!(!damaged.is_empty());
    assert_eq!(
        damaged
            .iter()
            .map(|d| d["lost_packets"].as_u64().unwrap())
            .sum::<u64>(),
        lost
    );
    let range = &listing.ranges[0];
    let out = root.join("clip.mp4");
    let summary = camwire::export::export(
        &root,
        "cam",
        range.start,
        range.end,
        &out,
        &camwire::export::ExportOptions::default(),
    )
    .unwrap();
    let m = &summary.manifest;
    eprintln!(
        "manifest: {} lost packets, damaged {:?}",
        m.lost_packets,
        m.damaged
            .iter()
            .map(|d| (d.start.as_str(), d.end.as_str(), d.lost_packets))
            .collect::<Vec<_>>()
    );
    assert_eq!(m.lost_packets, lost);
    assert!(!m.damaged.is_empty());
    // A span ends where decoding is clean again: at an intact keyframe (the source has one
    // every 2 s from the clip's first frame) or at the clip's end. When the keyframe that
    // follows a loss lost NAL units itself, the span runs on to the next one, so a span may
    // cover more than one GOP; spans never overlap.
    let t = |s: &str| {
        camwire::export::parse_rfc3339(s)
            .unwrap()
            .duration_since(camwire::export::parse_rfc3339(&m.actual.start).unwrap())
            .unwrap()
            .as_secs_f64()
    };
    let clip_end = t(&m.actual.end);
    let mut prev_end = 0.0;
    for d in &m.damaged {
        let (start, end) = (t(&d.start), t(&d.end));
        assert!(start >= prev_end && start < end && end <= clip_end, "{d:?}");
        let on_keyframe = ((end / 2.0).round() * 2.0 - end).abs() < 0.001;
        assert!(on_keyframe || (end - clip_end).abs() < 0.001, "{d:?}");
        assert!((d.duration_secs - (end - start)).abs() < 0.001, "{d:?}");
        assert!(d.lost_packets > 0, "{d:?}");
        prev_end = end;
    }
    // The manifest on disk carries the same fields, and verify passes.
    let text = std::fs::read_to_string(&summary.manifest_path).unwrap();
    assert!(text.contains("\"damaged\"") && text.contains("\"lost_packets\""));
    let report = camwire::export::verify(&out).unwrap();
    assert!(report.ok(), "{:?}", report.problems());
    support::assert_ffprobe_silent(&out);
}

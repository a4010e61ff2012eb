//! Export and verify carry audio (issue 12, read side), against real peers: a GStreamer RTSP
//! server (`gst_rtsp_server.py --audio`) serves an ffmpeg clip (testsrc2 H.264 + pink-noise
//! PCMU or AAC), camwire's recorder records it, and a 5 s export (progressive and fragmented)
//! is checked with ffmpeg/ffprobe and PyAV:
//! - `ffprobe -v error` prints nothing; the clip has the video and the audio stream;
//! - decoded, both tracks last 5 s within one frame (40 ms) / one audio packet;
//! - the stored audio is a run of the recording's, byte for byte (G.711 raw bytes, AAC frame
//!   by frame), edit lists ignored;
//! - audio minus video (same samples, same frame) is the recording's within 20 ms, edit lists
//!   applied;
//! - `verify` passes; a flipped byte in one audio sample fails it, even when the forger also
//!   rewrites the clip's hash in the manifest (the media hash covers the audio);
//! - PyAV (from the Python test venv, `target/python-venv`, when present) decodes both.
//!
//! The helpers are the ones of `record_av_gstreamer.rs` (clip encoding, server, recording).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::av::{find, framemd5, longest_audio_packet, mulaw_bytes, run_silent};
use support::gst::{GstPeer, clip_dir};
use support::{mp4_files, tmp};

use camwire::export::{ExportOptions, OutputFormat, export, ranges, verify};
use camwire::record::{CameraConfig, SegmentOptions, record_camera};
use camwire::rtsp::{SourceOptions, Transport};

const FPS: usize = 25;
const CLIP_SECS: usize = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Audio {
    Aac,
    Pcmu,
}

impl Audio {
    fn codec(self) -> &'static str {
        match self {
            Audio::Aac => "aac",
            Audio::Pcmu => "pcm_mulaw",
        }
    }

    fn rate(self) -> u32 {
        match self {
            Audio::Aac => 16_000,
            Audio::Pcmu => 8_000,
        }
    }
}

/// The clip, encoded once and cached in the target dir (x264 without threads: bit-identical).
fn clip(audio: Audio) -> PathBuf {
    let dir = clip_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let ext = if audio == Audio::Aac { "mp4" } else { "mov" };
    let name = format!("xa-h264-{audio:?}-320x240-{CLIP_SECS}s.{ext}").to_lowercase();
    let path = dir.join(&name);
    if path.exists() {
        return path;
    }
    let part = dir.join(format!("{}.part.{ext}", std::process::id()));
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size=320x240:rate={FPS}"))
        .args(["-f", "lavfi", "-i"])
        .arg(format!(
            "anoisesrc=color=pink:seed=7:amplitude=0.3:sample_rate={}",
            audio.rate()
        ))
        .args(["-t", &CLIP_SECS.to_string()])
        .args([
            "-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-bf", "0", "-threads", "1",
        ])
        .args(["-pix_fmt", "yuv420p", "-b:v", "300k", "-ac", "1"]);
    match audio {
        Audio::Aac => cmd.args(["-c:a", "aac", "-b:a", "32k"]),
        Audio::Pcmu => cmd.args(["-c:a", "pcm_mulaw"]),
    };
    let out = cmd.arg(&part).output().expect("run ffmpeg");
    assert!(out.status.success(), "ffmpeg encoding the clip: {out:?}");
    std::fs::rename(&part, &path).unwrap();
    path
}

/// The GStreamer RTSP server, in a child process.
fn record(url: &str, root: &Path) {
    let cfg = CameraConfig {
        id: "cam".into(),
        url: url.to_string(),
        source: SourceOptions {
            transport: Transport::Tcp,
            ..SourceOptions::default()
        },
        segment: SegmentOptions {
            segment_secs: 3600,
            ..SegmentOptions::default()
        },
        depacketizer: Default::default(),
        backfill: None,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    let deadline = Duration::from_secs(CLIP_SECS as u64 + 40);
    let report = rt.block_on(async {
        tokio::time::timeout(deadline, record_camera(cfg, root.to_path_buf(), stop))
            .await
            .expect("the recording ends with the clip (RTCP BYE)")
            .expect("record")
    });
    assert!(report.ended_by_camera, "{report:?}");
}

/// Seconds of audio the decoder gives (edit lists applied): s16 mono samples / rate.
fn decoded_audio_secs(input: &Path, rate: u32) -> f64 {
    let pcm = run_silent(
        Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(input)
            .args(["-map", "0:a:0", "-f", "s16le", "-ac", "1", "-"]),
    );
    pcm.len() as f64 / 2.0 / f64::from(rate)
}

/// (codec, stream start time) per stream; ffprobe must print nothing on stderr.
fn probe(f: &Path) -> Vec<(String, f64)> {
    let text = String::from_utf8(run_silent(
        Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "stream=codec_name,start_time",
            ])
            .args(["-of", "csv=p=0"])
            .arg(f),
    ))
    .unwrap();
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f.first().copied().unwrap_or_default().to_string(),
                f.get(1).and_then(|s| s.parse().ok()).unwrap_or(f64::NAN),
            )
        })
        .collect()
}

/// Presentation times of the decoded video frames from 0 on (a fragmented clip's pre-roll
/// comes out of ffmpeg before 0; a progressive clip's is not output).
fn presented_frames(f: &Path) -> usize {
    let text = String::from_utf8(run_silent(
        Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "v"])
            .args(["-show_entries", "frame=pts_time", "-of", "csv=p=0"])
            .arg(f),
    ))
    .unwrap();
    text.lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse::<f64>().ok())
        .filter(|t| *t >= -0.0005)
        .count()
}

/// Stream durations (video, audio) as ffprobe reads the container.
fn stream_durations(f: &Path) -> Vec<f64> {
    let text = String::from_utf8(run_silent(
        Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "stream=duration",
                "-of",
                "csv=p=0",
            ])
            .arg(f),
    ))
    .unwrap();
    text.lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse::<f64>().ok())
        .collect()
}

/// (file offset, size) of the stored audio packets.
fn audio_packet_positions(f: &Path) -> Vec<(u64, u64)> {
    let text = String::from_utf8(run_silent(
        Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-ignore_editlist",
                "1",
                "-select_streams",
                "a",
            ])
            .args(["-show_entries", "packet=pos,size", "-of", "csv=p=0"])
            .arg(f),
    ))
    .unwrap();
    text.lines()
        .filter_map(|l| {
            let (a, b) = l.split_once(',')?;
            Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
        })
        .collect()
}

/// PyAV from the Python tests' venv, when it is there.
fn pyav_python() -> Option<PathBuf> {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent()?;
    let py = std::env::var_os("CAMWIRE_VENV")
        .map(|v| PathBuf::from(v).join("bin/python"))
        .unwrap_or_else(|| target.join("python-venv/bin/python"));
    let ok = Command::new(&py)
        .args(["-c", "import av"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some(py)
}

/// Decodes every stream with PyAV: (video frames, audio seconds).
fn pyav_decode(py: &Path, clip: &Path) -> (usize, f64) {
    let script = r#"
import sys, av
c = av.open(sys.argv[1])
v = c.streams.video[0]; a = c.streams.audio[0]
frames = 0; samples = 0
for f in c.decode(v, a):
    if isinstance(f, av.VideoFrame): frames += 1
    else: samples += f.samples
print(frames, samples / a.rate)
"#;
    let out = Command::new(py)
        .args(["-c", script])
        .arg(clip)
        .output()
        .expect("run PyAV");
    assert!(out.status.success(), "PyAV: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.split_whitespace();
    let frames = it.next().and_then(|s| s.parse().ok()).expect("frames");
    let secs = it.next().and_then(|s| s.parse().ok()).expect("secs");
    (frames, secs)
}

/// Audio start minus video start of `f` for the first presented samples, and where the same
/// samples sit in the recording: (in the clip, in the recording), seconds.
fn av_offsets(f: &Path, rec: &Path, audio: Audio) -> (f64, f64) {
    let rec_v = framemd5(rec, "0:v:0", false, false);
    let clip_v = framemd5(f, "0:v:0", false, false);
    let (cv_pts, cv_md5) = clip_v.first().cloned().expect("video frames");
    let rv_pts = rec_v
        .iter()
        .find(|(_, m)| *m == cv_md5)
        .expect("the clip's first frame is a recorded frame")
        .0;
    let clip_a = framemd5(f, "0:a:0", true, false);
    let (ca_pts, ca_md5) = clip_a.first().cloned().expect("audio packets");
    let ra_pts = match audio {
        Audio::Aac => {
            let rec_a = framemd5(rec, "0:a:0", true, false);
            rec_a
                .iter()
                .find(|(_, m)| *m == ca_md5)
                .expect("the clip's first AAC frame is a recorded frame")
                .0
        }
        Audio::Pcmu => {
            let rec_a = framemd5(rec, "0:a:0", true, false);
            let rec_bytes = mulaw_bytes(rec, false);
            let clip_bytes = mulaw_bytes(f, false);
            let at = find(&rec_bytes, &clip_bytes[..400]).expect("clip audio in recording");
            rec_a.first().expect("recorded audio").0 + at as f64 / 8000.0
        }
    };
    (ca_pts - cv_pts, ra_pts - rv_pts)
}

fn check(audio: Audio) {
    let name = format!("{audio:?}").to_lowercase();
    let source = clip(audio);
    let kind = if audio == Audio::Aac { "aac" } else { "pcmu" };
    let server = GstPeer::start(
        "gst_rtsp_server.py",
        [source.to_str().unwrap(), "--audio", kind],
    );
    let root = tmp(&format!("xa-{name}"));
    record(server.url(), &root);
    drop(server);
    let files = mp4_files(&root);
    assert_eq!(files.len(), 1, "{files:?}");
    let rec = &files[0];

    let listing = ranges(&root, "cam", None, None).expect("ranges");
    let start = listing.ranges.first().expect("a range").start;
    let t1 = start + Duration::from_millis(2_310);
    let t2 = t1 + Duration::from_secs(5);
    assert!(t2 < listing.ranges[0].end, "{listing:?}");
    let py = pyav_python();
    if py.is_none() {
        eprintln!("PyAV not found (target/python-venv): ffmpeg decoding is the witness");
    }
    for format in [OutputFormat::Progressive, OutputFormat::Fragmented] {
        let out = root.join(format!("clip-{format:?}.mp4"));
        let opts = ExportOptions {
            format,
            ..ExportOptions::default()
        };
        let s = export(&root, "cam", t1, t2, &out, &opts).expect("export");
        let m = &s.manifest;
        let what = format!("{name} {format:?}");

        // ffprobe silent; video then audio.
        let streams = probe(&out);
        assert_eq!(streams.len(), 2, "{what}: {streams:?}");
        assert_eq!(streams[0].0, "h264", "{what}");
        assert_eq!(streams[1].0, audio.codec(), "{what}");

        // Both tracks last 5 s: each track's presentation (its edit list, as ffprobe gives
        // the stream durations of the progressive clip) within one frame; decoded by ffmpeg
        // (edit lists applied): the video's frames from 0 on within a frame of the
        // presented span, the audio within one packet (ffmpeg trims the first audio packet
        // to the edit, and decodes the last one whole).
        let packet = longest_audio_packet(&out);
        let frames = presented_frames(&out);
        let video_secs = frames as f64 / FPS as f64;
        let audio_secs = decoded_audio_secs(&out, audio.rate());
        let durations = stream_durations(&out);
        let presented = m.tracks[0].secs();
        eprintln!(
            "{what}: presented {presented:.4} s; video {frames} frames = {video_secs:.3} s, \
             audio decoded {audio_secs:.4} s (packets up to {packet:.3} s), stream durations \
             {durations:?}, audio track {:.4} s",
            m.tracks[1].secs()
        );
        for t in &m.tracks {
            assert!((t.secs() - 5.0).abs() <= 0.040 + 1e-6, "{what}: {t:?}");
        }
        // One frame, plus one more where the recording's clock steps inside the window:
        // gst-rtsp-server's first sender report comes after the first fragments were timed
        // by arrival, ~42 ms later than its clock puts them, so one frame's worth of wall
        // clock is presented twice (measured once in about ten runs: 127 frames for 5.03 s).
        assert!(
            (video_secs - presented).abs() <= 0.080 + 1e-6,
            "{what}: video {video_secs}"
        );
        assert!(
            (audio_secs - 5.0).abs() <= packet + 1e-6,
            "{what}: audio {audio_secs}"
        );
        if format == OutputFormat::Progressive {
            // (ffmpeg gives a fragmented file's durations with its pre-roll)
            assert_eq!(durations.len(), 2, "{what}");
            for d in durations {
                assert!(
                    (d - 5.0).abs() <= 0.040 + 1e-6,
                    "{what}: stream duration {d}"
                );
            }
        }

        // The stored audio is a run of the recording's.
        match audio {
            Audio::Pcmu => {
                let got = mulaw_bytes(&out, true);
                let all = mulaw_bytes(rec, true);
                let at = find(&all, &got[..400]).expect("export audio in the recording");
                assert_eq!(&all[at..at + got.len()], &got[..], "{what}: G.711 bytes");
            }
            Audio::Aac => {
                let got = framemd5(&out, "0:a:0", true, true);
                let all = framemd5(rec, "0:a:0", true, true);
                let at = all
                    .iter()
                    .position(|p| p.1 == got[0].1)
                    .expect("first AAC frame recorded");
                let want: Vec<&String> = all[at..at + got.len()].iter().map(|p| &p.1).collect();
                let have: Vec<&String> = got.iter().map(|p| &p.1).collect();
                assert_eq!(
                    want, have,
                    "{what}: AAC frames are consecutive recorded ones"
                );
            }
        }

        assert_eq!(
            m.tracks[1].samples,
            audio_packet_positions(&out).len() as u64,
            "{what}: the manifest counts the stored audio packets"
        );

        // Audio minus video, edit lists applied, as in the recording.
        let (clip_off, rec_off) = av_offsets(&out, rec, audio);
        eprintln!(
            "{what}: audio - video {:.1} ms (recording {:.1} ms)",
            clip_off * 1000.0,
            rec_off * 1000.0
        );
        assert!(
            (clip_off - rec_off).abs() <= 0.020,
            "{what}: {clip_off} vs {rec_off}"
        );

        // Manifest: per-track counts and the AV format.
        assert_eq!(m.format, camwire::export::MANIFEST_FORMAT_AV, "{what}");
        assert_eq!(m.tracks.len(), 2, "{what}");
        assert_eq!(
            (m.tracks[0].kind.as_str(), m.tracks[0].samples),
            ("video", m.samples)
        );
        assert_eq!(m.tracks[1].kind, "audio");
        assert_eq!(m.sources.len(), 1);
        assert_eq!(m.sources[0].audio.len(), 1);
        assert_eq!(m.sources[0].audio[0].samples, m.tracks[1].samples);

        if let Some(py) = &py {
            let (pf, ps) = pyav_decode(py, &out);
            eprintln!("{what}: PyAV {pf} frames, {ps:.4} s of audio");
            assert!(pf >= frames, "{what}: PyAV decodes the video");
            assert!(
                (ps - 5.0).abs() <= packet + 0.001,
                "{what}: PyAV audio {ps}"
            );
        }

        // verify passes; one flipped audio byte fails it, even with the clip's hash rewritten.
        let r = verify(&out).expect("verify");
        assert!(r.ok(), "{what}: {:?}", r.problems());
        let packets = audio_packet_positions(&out);
        let (pos, size) = packets[packets.len() / 2];
        let mut bytes = std::fs::read(&out).unwrap();
        bytes[(pos + size / 2) as usize] ^= 0x40;
        std::fs::write(&out, &bytes).unwrap();
        let mpath = camwire::export::manifest_path(&out);
        let mut forged = m.clone();
        forged.output.sha256 = sha256_hex(&bytes);
        std::fs::write(&mpath, serde_json::to_vec_pretty(&forged).unwrap()).unwrap();
        let r = verify(&out).expect("verify");
        assert!(r.output.is_match(), "{what}: the forged clip hash matches");
        assert!(!r.ok(), "{what}: a flipped audio byte fails verify");
        let problems = r.problems().join("; ");
        assert!(problems.contains("media of the clip"), "{what}: {problems}");
        eprintln!("{what}: flipped audio byte: {problems}");
    }
}

/// Seconds a manifest track presents.
trait Secs {
    fn secs(&self) -> f64;
}

impl Secs for camwire::export::ManifestTrack {
    fn secs(&self) -> f64 {
        let t = |s: &str| camwire::export::parse_rfc3339(s).expect("manifest time");
        t(&self.end)
            .duration_since(t(&self.start))
            .map_or(0.0, |d| d.as_secs_f64())
    }
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

#[test]
fn export_h264_pcmu_carries_audio() {
    check(Audio::Pcmu);
}

#[test]
fn export_h264_aac_carries_audio() {
    check(Audio::Aac);
}

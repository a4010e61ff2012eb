//! Tracks on the surfaces (issue 12): `camwire probe` lists every track of a GStreamer RTSP
//! server's SDP (video, AAC or G.711 audio, G.726 skipped by name), and `LiveStream` hands
//! out the audio frames, byte for byte what ffmpeg reads from the same server.
//!
//! The server (`support/gst_rtsp_server.py --audio`) sends a file clip's own audio track
//! without re-encoding, and every session gets its own pipeline from the clip's start: two
//! sessions (camwire's and ffmpeg's) receive the same packets, so they can be compared one
//! by one.

mod support;

use camwire::rtsp::{AudioChoice, SourceOptions, TrackKind};
use camwire::stream::{Codec, LiveStream};
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, UNIX_EPOCH};
use support::{assert_ok, camwire};

/// The clips: 6 s of 320x240 testsrc2 at 25 fps (x264, no B-frames, GOP 2 s) with a 440 Hz
/// sine, as mu-law 8 kHz in a .mov (ffmpeg's mp4 muxer refuses mu-law) or AAC-LC 16 kHz in
/// an .mp4. Made once per machine under a lock, as `support::clip` does, so every test
/// compares against the very bytes its server streams.
fn av_clip(audio: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("clips");
    std::fs::create_dir_all(&dir).expect("mkdir clips");
    let (name, rate, codec) = match audio {
        "pcmu" => ("testsrc2-320x240-6s-pcmu.mov", "8000", "pcm_mulaw"),
        "aac" => ("testsrc2-320x240-6s-aac.mp4", "16000", "aac"),
        o => panic!("no clip for {o}"),
    };
    let path = dir.join(name);
    if path.exists() {
        return path;
    }
    let lock = std::fs::File::create(dir.join(format!("{name}.lock"))).expect("lock file");
    lock.lock().expect("lock clip");
    if path.exists() {
        return path;
    }
    let part = dir.join(format!("part-{}-{name}", std::process::id()));
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc2=size=320x240:rate=25")
        .args(["-f", "lavfi", "-i"])
        .arg(format!("sine=frequency=440:sample_rate={rate}"))
        .args([
            "-t", "6", "-c:v", "libx264", "-preset", "veryfast", "-bf", "0",
        ])
        .args(["-g", "50", "-keyint_min", "50", "-pix_fmt", "yuv420p"])
        .args(["-c:a", codec, "-ac", "1"])
        .arg(&part)
        .output()
        .expect("run ffmpeg");
    assert_ok(&out, "ffmpeg making the audio clip");
    std::fs::rename(&part, &path).expect("rename clip");
    path
}

/// `gst_rtsp_server.py FILE --audio KIND` in a child process, killed on drop.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(file: &Path, audio: &str) -> Server {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/gst_rtsp_server.py");
        let mut child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(file)
            .args(["--audio", audio])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the GStreamer RTSP server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read server line");
        let url = line
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("server did not start: {line:?}"))
            .trim()
            .to_string();
        Server { child, url }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn stdout(args: &[&str]) -> String {
    let out = camwire(args);
    assert_ok(&out, &args.join(" "));
    String::from_utf8(out.stdout).expect("utf-8")
}

/// `camwire probe` lists the video track and the chosen audio track (codec, clock rate,
/// channels, recorded), names a G.726 track as skipped, and `--audio no` skips the audio
/// as not requested; `--json` carries the same with the decoder configurations.
#[test]
fn probe_lists_every_track() {
    let pcmu = Server::start(&av_clip("pcmu"), "pcmu");
    let text = stdout(&["probe", "--url", &pcmu.url]);
    let tracks: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "tracks:")
        .skip(1)
        .map(str::trim)
        .collect();
    assert_eq!(tracks.len(), 2, "{text}");
    assert!(
        tracks[0].starts_with("track 0  video  avc1.64")
            && tracks[0].ends_with("90000 Hz  recorded"),
        "{text}"
    );
    assert!(
        tracks[1].starts_with("track 1  audio  ulaw ")
            && tracks[1].ends_with("8000 Hz  1 ch  recorded"),
        "{text}"
    );
    let text = stdout(&["probe", "--url", &pcmu.url, "--audio", "no"]);
    assert!(
        text.contains("audio  ulaw ") && text.contains("skipped: audio not requested (--audio no)"),
        "{text}"
    );

    let aac = Server::start(&av_clip("aac"), "aac");
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&["probe", "--url", &aac.url, "--json"])).expect("json");
    let t = json["tracks"].as_array().expect("tracks");
    assert_eq!(t.len(), 2, "{json}");
    assert_eq!(t[0]["track"], 0);
    assert_eq!(t[0]["kind"], "video");
    assert_eq!(t[0]["codec"], json["codec"]);
    assert!(
        t[0]["config"].as_str().unwrap().starts_with("0164"),
        "avcC: version 1, High profile: {json}"
    );
    assert_eq!(t[1]["track"], 1);
    assert_eq!(t[1]["kind"], "audio");
    assert_eq!(t[1]["encoding"], "MPEG4-GENERIC");
    assert_eq!(t[1]["codec"], "mp4a.40.2");
    assert_eq!(t[1]["clock_rate"], 16000);
    assert_eq!(t[1]["channels"], 1);
    assert_eq!(t[1]["recorded"], true);
    // The AudioSpecificConfig: AAC-LC (2), 16 kHz (index 8), mono.
    let asc = t[1]["config"].as_str().unwrap();
    assert!(asc.starts_with("1408"), "{json}");

    let g726 = Server::start(&av_clip("pcmu"), "g726");
    let text = stdout(&["probe", "--url", &g726.url]);
    let line = text
        .lines()
        .find(|l| l.contains("G726"))
        .unwrap_or_else(|| panic!("no G.726 line: {text}"));
    assert!(
        line.trim_start().starts_with("-        audio  G726-32")
            && line.ends_with("8000 Hz  skipped: audio codec G726-32 is not recorded"),
        "{text}"
    );
    assert!(text.contains("track 0  video"), "{text}");
}

/// (pts, duration, size, sha256) of each audio packet ffmpeg reads from `url`
/// (`-map 0:a -c copy -f framehash -hash sha256`), pts relative to its first.
fn ffmpeg_audio_packets(url: &str) -> Vec<(i64, i64, usize, String)> {
    let out = Command::new("timeout")
        .args([
            "60",
            "ffmpeg",
            "-v",
            "error",
            "-rtsp_transport",
            "tcp",
            "-i",
            url,
        ])
        .args([
            "-map",
            "0:a",
            "-c",
            "copy",
            "-f",
            "framehash",
            "-hash",
            "sha256",
            "-",
        ])
        .output()
        .expect("run ffmpeg");
    assert_ok(&out, "ffmpeg reading the audio");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split(',').map(str::trim).collect();
            (
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
                f[4].parse().unwrap(),
                f[5].to_string(),
            )
        })
        .collect()
}

struct Got {
    audio: Vec<(i64, u32, usize, String, f64)>,
    video: Vec<f64>,
    clock_rate: u32,
    codec: Option<Codec>,
}

fn secs(t: std::time::SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

/// Reads the whole clip through `LiveStream` (with audio when `audio`).
fn read_all(url: &str, audio: bool) -> Got {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let opts = SourceOptions {
            audio: AudioChoice::First,
            ..SourceOptions::default()
        };
        let mut live = if audio {
            LiveStream::open_with_audio(url, opts).await
        } else {
            LiveStream::open(url, opts).await
        }
        .expect("open");
        let mut got = Got {
            audio: Vec::new(),
            video: Vec::new(),
            clock_rate: 0,
            codec: None,
        };
        let read = async {
            while let Some(f) = live.next_frame().await.expect("frame") {
                match f.kind {
                    TrackKind::Video => {
                        assert_eq!((f.track, f.codec, f.clock_rate), (0, Codec::H264, 90_000));
                        assert!(f.audio.is_none());
                        got.video.push(secs(f.wallclock));
                    }
                    TrackKind::Audio => {
                        assert_eq!(f.track, 1);
                        assert!(f.keyframe && f.access_unit.nals.is_empty());
                        assert_eq!(f.loss, 0, "no loss over loopback TCP");
                        let mut data = Vec::new();
                        f.write_avc(&mut data);
                        assert_eq!(data.len(), f.payload_len());
                        got.clock_rate = f.clock_rate;
                        got.codec = Some(f.codec);
                        let hash: String = Sha256::digest(&data)
                            .iter()
                            .map(|b| format!("{b:02x}"))
                            .collect();
                        got.audio
                            .push((f.pts, f.samples(), data.len(), hash, secs(f.wallclock)));
                    }
                }
                live.recycle(f);
            }
        };
        tokio::time::timeout(Duration::from_secs(60), read)
            .await
            .expect("the stream ends with the clip");
        let info = live.info().expect("info");
        assert_eq!(info.tracks.len(), 2);
        assert_eq!(info.tracks[0].config, info.avcc);
        got
    })
}

/// Audio frames from `LiveStream::open_with_audio` are the packets ffmpeg reads, in order
/// and byte for byte (sha256 per frame); their pts advance by their samples, as ffmpeg's
/// do; their wall-clock times advance with the samples and start with the pictures'. A
/// stream opened with `LiveStream::open` hands out pictures only.
fn audio_frames_equal_ffmpegs(kind: &str, codec: Codec, clock_rate: u32) {
    let server = Server::start(&av_clip(kind), kind);
    let theirs = ffmpeg_audio_packets(&server.url);
    let got = read_all(&server.url, true);
    assert_eq!(got.codec, Some(codec));
    assert_eq!(got.clock_rate, clock_rate);
    let ours = &got.audio;
    eprintln!(
        "{kind}: camwire {} audio frames, {} pictures; ffmpeg {} packets",
        ours.len(),
        got.video.len(),
        theirs.len()
    );
    // Both sessions start at the clip's start; the very end may differ by a packet or two
    // (the video's BYE ends camwire's stream, ffmpeg stops on its own terms).
    assert!(ours.len() + 3 >= theirs.len() && ours.len() <= theirs.len() + 3);
    let n = ours.len().min(theirs.len());
    assert!(n > 40, "{n} audio frames");
    for i in 0..n {
        let (pts, samples, size, ref hash, _) = ours[i];
        let (tpts, tdur, tsize, ref thash) = theirs[i];
        assert_eq!(
            (i64::from(samples), size, hash),
            (tdur, tsize, thash),
            "{kind} audio frame {i}"
        );
        // ffmpeg re-times its packets from the first RTCP sender report on (rounding by a
        // tick); ours are the RTP timestamps themselves.
        let (at, theirs_at) = (pts - ours[0].0, tpts - theirs[0].0);
        assert!(
            (at - theirs_at).abs() <= 2,
            "{kind} audio frame {i}: pts {at}, ffmpeg's {theirs_at}"
        );
        if i + 1 < ours.len() {
            assert_eq!(
                ours[i + 1].0 - pts,
                i64::from(samples),
                "pts advance by samples"
            );
            // Wall-clock steps follow the samples; a sender report re-anchoring the clock
            // may move one step by the difference between the two clocks (a few ms here).
            let step = ours[i + 1].4 - ours[i].4;
            let want = f64::from(samples) / f64::from(clock_rate);
            assert!(
                (step - want).abs() < 0.05,
                "{kind} frame {i}: step {step} s, want {want}"
            );
        }
    }
    // The clip's audio and video both start at 0: so do their wall-clock times, within the
    // server's pacing and the arrival of the first packets.
    let start_gap = ours[0].4 - got.video[0];
    assert!(
        start_gap.abs() < 0.2,
        "{kind}: audio starts {start_gap} s after video"
    );
    let span = ours[n - 1].4 - ours[0].4;
    let media = (ours[n - 1].0 - ours[0].0) as f64 / f64::from(clock_rate);
    assert!(
        (span - media).abs() < 0.05,
        "{kind}: wall span {span} s, media {media} s"
    );
    assert_eq!(got.video.len(), 150, "every picture of the 6 s clip");

    let video_only = read_all(&server.url, false);
    assert!(
        video_only.audio.is_empty(),
        "LiveStream::open hands out pictures only"
    );
    assert_eq!(video_only.video.len(), 150);
}

#[test]
fn live_stream_pcmu_frames_equal_ffmpegs() {
    audio_frames_equal_ffmpegs("pcmu", Codec::Pcmu, 8000);
}

#[test]
fn live_stream_aac_frames_equal_ffmpegs() {
    audio_frames_equal_ffmpegs("aac", Codec::Aac, 16000);
}

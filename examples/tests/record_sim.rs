//! `camwire record` and `camwire demo` against the built-in simulated camera.

mod support;
use camwire::sim::{SimCamera, SimOptions};
use std::process::Command;
use support::*;

/// The sim loops its 250-frame clip; frame i of a recording is clip frame i % 250.
fn clip_frames() -> Vec<String> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/testdata/sim_clip.h264");
    framemd5(&[p])
}

#[test]
fn digest_auth_recording_equals_clip_and_wrong_password_fails_without_leaking() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt
        .block_on(SimCamera::start(SimOptions {
            credentials: Some(("admin".into(), "Secr3t-pw".into())),
            ..Default::default()
        }))
        .unwrap();
    let url = sim.rtsp_url();
    let out = tmpdir("sim-auth");
    let r = camwire(&[
        "record",
        "--url",
        &url,
        "--user",
        "admin",
        "--password",
        "Secr3t-pw",
        "--out",
        out.to_str().unwrap(),
        "--camera-id",
        "sim",
        "--duration",
        "12",
        "--segment-secs",
        "4",
        "-v",
    ]);
    assert_ok(&r, "camwire record with digest auth");
    for stream in [&r.stdout, &r.stderr] {
        assert!(
            !String::from_utf8_lossy(stream).contains("Secr3t-pw"),
            "password leaked"
        );
    }
    let files = mp4_files(&out.join("sim"));
    assert!(files.len() >= 2, "{files:?}");
    for f in &files {
        assert_ffprobe_clean(f);
        assert_decodes_cleanly(f);
    }
    let got = framemd5(&files);
    let clip = clip_frames();
    assert!(got.len() >= 250, "only {} frames in 12 s", got.len());
    for (i, h) in got.iter().enumerate() {
        assert_eq!(h, &clip[i % clip.len()], "frame {i} differs from the clip");
    }

    // Wrong password inside the URL: a clean auth error, no password anywhere.
    let bad_url = url.replace("rtsp://", "rtsp://admin:Wr0ng-pw@");
    let r = camwire(&[
        "record",
        "--url",
        &bad_url,
        "--out",
        out.to_str().unwrap(),
        "--duration",
        "5",
    ]);
    assert!(!r.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&r.stdout),
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(text.contains("authentication failed"), "{text}");
    assert!(
        !text.contains("Wr0ng-pw") && !text.contains("Secr3t-pw"),
        "password leaked: {text}"
    );
    rt.block_on(sim.shutdown());
}

#[test]
fn demo_runs_and_its_files_play() {
    let out = tmpdir("demo");
    let r = camwire(&["demo", "--out", out.to_str().unwrap(), "--duration", "4"]);
    assert_ok(&r, "camwire demo");
    let files = mp4_files(&out);
    assert!(!files.is_empty());
    for f in &files {
        assert_decodes_cleanly(f);
    }
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(
        text.contains("simulated camera") && text.contains("recorded"),
        "{text}"
    );
}

#[test]
fn probe_reports_the_sps() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt
        .block_on(SimCamera::start(SimOptions::default()))
        .unwrap();
    let r = camwire(&["probe", "--url", &sim.rtsp_url(), "--json"]);
    assert_ok(&r, "camwire probe");
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["codec"], "avc1.4d401e");
    assert_eq!(v["width"], 640);
    assert_eq!(v["height"], 360);
    assert_eq!(v["fps"], 25.0);
    assert_eq!(v["profile"], "Main");
    assert_eq!(v["transport"], "tcp");
    // And ffprobe, reading the same camera, agrees.
    let ff = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-rtsp_transport",
            "tcp",
            "-show_entries",
            "stream=width,height",
            "-of",
            "csv=p=0",
        ])
        .arg(sim.rtsp_url())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&ff.stdout).trim(), "640,360");
    rt.block_on(sim.shutdown());
}

/// SIGTERM and SIGINT both end `camwire record` cleanly: exit 0, the open fragment written,
/// every frame received until then decodable.
#[test]
fn sigterm_and_sigint_finish_files_cleanly() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt
        .block_on(SimCamera::start(SimOptions::default()))
        .unwrap();
    for sig in ["TERM", "INT"] {
        let out = tmpdir(&format!("sig{sig}"));
        let child = Command::new(env!("CARGO_BIN_EXE_camwire"))
            .args([
                "record",
                "--url",
                &sim.rtsp_url(),
                "--out",
                out.to_str().unwrap(),
                "--camera-id",
                "c",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(3300));
        let k = Command::new("kill")
            .args([&format!("-{sig}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(k.success());
        let r = child.wait_with_output().unwrap();
        assert_ok(&r, &format!("camwire record stopped by SIG{sig}"));
        let files = mp4_files(&out);
        assert_eq!(files.len(), 1, "{files:?}");
        assert_decodes_cleanly(&files[0]);
        let frames = framemd5(&files).len();
        // ~3 s of 25 fps after connecting; the last partial fragment must be there too.
        assert!((60..=85).contains(&frames), "SIG{sig}: {frames} frames");
    }
    rt.block_on(sim.shutdown());
}

/// stdout is a pipe whose reader has gone (`camwire … | head` after head exits): the
/// command must not panic. `record` finishes its files first and then leaves with the
/// shell's SIGPIPE status; a listing command leaves at its first line.
#[test]
fn closed_stdout_is_not_a_panic_and_recordings_are_finished() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt
        .block_on(SimCamera::start(SimOptions::default()))
        .unwrap();
    let out = tmpdir("sim-closed-stdout");
    let run = |args: &[&str]| {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        Command::new(env!("CARGO_BIN_EXE_camwire"))
            .args(args)
            .stdout(writer)
            .output()
            .expect("run camwire")
    };
    let url = sim.rtsp_url();
    let dir = out.to_str().unwrap();
    let r = run(&[
        "record",
        "--url",
        &url,
        "--out",
        dir,
        "--camera-id",
        "sim",
        "--duration",
        "3",
    ]);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(r.status.code(), Some(141), "{stderr}");
    let files = mp4_files(&out.join("sim"));
    assert_eq!(files.len(), 1, "{files:?}");
    assert_ffprobe_clean(&files[0]);
    assert!(framemd5(&files).len() >= 50, "3 s recorded");

    let r = run(&["ls", "--root", dir]);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(r.status.code(), Some(141), "{stderr}");
}

/// `camwire record` of an H.265 + PCMU sim camera: by default the audio is recorded beside
/// the video (ffprobe reads both; the µ-law bytes are the sim's, sample for sample, from the
/// first one recorded); `--audio no` records the video alone.
#[test]
fn record_h265_with_pcmu_audio_and_audio_no() {
    use camwire::sim::{SimAudio, VideoCodec, pcmu_sample};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt
        .block_on(SimCamera::start(SimOptions {
            video_codec: VideoCodec::H265,
            audio: Some(SimAudio::Pcmu),
            ..Default::default()
        }))
        .unwrap();
    let url = sim.rtsp_url();
    for (audio, want_streams) in [(None, 2), (Some("no"), 1)] {
        let out = tmpdir(&format!("sim-av-{}", audio.unwrap_or("first")));
        let mut args = vec![
            "record",
            "--url",
            &url,
            "--out",
            out.to_str().unwrap(),
            "--camera-id",
            "sim",
            "--duration",
            "6",
        ];
        if let Some(a) = audio {
            args.extend(["--audio", a]);
        }
        let r = camwire(&args);
        assert_ok(&r, "camwire record");
        let files = mp4_files(&out.join("sim"));
        assert_eq!(files.len(), 1, "{files:?}");
        let probe = Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "stream=codec_name",
                "-of",
                "csv=p=0",
            ])
            .arg(&files[0])
            .output()
            .unwrap();
        assert!(probe.stderr.is_empty(), "ffprobe says {probe:?}");
        assert_decodes_cleanly(&files[0]);
        let codecs = String::from_utf8_lossy(&probe.stdout).to_string();
        let codecs: Vec<&str> = codecs.lines().collect();
        assert_eq!(codecs.len(), want_streams, "{codecs:?}");
        assert_eq!(codecs[0], "hevc");
        if want_streams == 1 {
            continue;
        }
        assert_eq!(codecs[1], "pcm_mulaw");
        let raw = Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(&files[0])
            .args(["-map", "0:a", "-c", "copy", "-f", "mulaw", "-"])
            .output()
            .unwrap();
        let got = raw.stdout;
        assert!(got.len() >= 4 * 8000, "{} bytes of audio in 6 s", got.len());
        // The sim's µ-law stream is a function of the sample index; find where the
        // recording starts in it (the tone's loudness steps each second, so 8 s of samples
        // are distinct) and compare every byte from there.
        let start = (0..8 * 8000u64)
            .find(|&n| (0..400).all(|i| pcmu_sample(n + i) == got[i as usize]))
            .expect("recorded audio is the sim's");
        for (i, b) in got.iter().enumerate() {
            assert_eq!(*b, pcmu_sample(start + i as u64), "audio byte {i}");
        }
    }
}

/// `camwire capture` of an H.264 + AAC sim camera keeps the audio stream, and `camwire
/// replay` turns it back into a file with both tracks: every AAC frame is the sim's (its
/// frames loop through a fixed list) in order, and the video is the clip's.
#[test]
fn capture_then_replay_keeps_aac_audio() {
    use camwire::sim::{SimAudio, aac_frames};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt
        .block_on(SimCamera::start(SimOptions {
            audio: Some(SimAudio::Aac),
            ..Default::default()
        }))
        .unwrap();
    let dir = tmpdir("sim-capture-aac");
    let prefix = dir.join("cap");
    let cap = camwire(&[
        "capture",
        "--url",
        &sim.rtsp_url(),
        "--out",
        prefix.to_str().unwrap(),
        "--duration",
        "5",
    ]);
    assert_ok(&cap, "camwire capture");
    let out = dir.join("replayed.mp4");
    let rep = camwire(&[
        "replay",
        "--sdp",
        &format!("{}.sdp", prefix.display()),
        "--interleaved",
        &format!("{}.rtp", prefix.display()),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_ok(&rep, "camwire replay");
    assert_ffprobe_clean(&out);
    assert_decodes_cleanly(&out);
    let clip = clip_frames();
    let video = framemd5(std::slice::from_ref(&out));
    assert!(video.len() >= 100, "{} frames", video.len());
    for (i, h) in video.iter().enumerate() {
        assert_eq!(h, &clip[i % clip.len()], "frame {i}");
    }
    // The AAC frames as stored, back to back (`-f data`), against the sim's list.
    let raw = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&out)
        .args(["-map", "0:a", "-c", "copy", "-f", "data", "-"])
        .output()
        .unwrap();
    assert!(raw.stderr.is_empty(), "{raw:?}");
    let got = raw.stdout;
    let frames = aac_frames();
    let start = (0..frames.len())
        .find(|&k| got.starts_with(frames[k]))
        .expect("the first AAC frame is one of the sim's");
    let (mut at, mut n) = (0, 0);
    while at < got.len() {
        let want = frames[(start + n) % frames.len()];
        assert_eq!(
            got.get(at..at + want.len()),
            Some(want),
            "AAC frame {n} (at byte {at})"
        );
        at += want.len();
        n += 1;
    }
    assert!(n >= 60, "{n} AAC frames in 5 s");
}

//! Export of audio across recording files, against the sim camera serving H.264 + PCMU
//! (`SimOptions::audio`), recorded by camwire's recorder in 4 s files. The sim's µ-law bytes
//! are a formula of the sample index ([`pcmu_sample`]) and its audio sample `n` is captured
//! `n / 8000` s after video frame 0, so what the clip must hold is known exactly:
//! - a clip spanning file cuts carries audio that is one run of the recordings' audio (the
//!   files' audio concatenated) and of the sim's sample sequence: no sample lost or repeated
//!   at a cut; its first audio sample keeps its offset to the first video frame; the
//!   manifest's per-source audio counts add up; verify passes (progressive and fragmented);
//! - files whose audio differs from the clip's (another codec, or the clip starts in a file
//!   without audio) are named in the manifest (`sources[].audio_dropped`) with the reason,
//!   not only logged;
//! - a fragmented clip whose first fragment carries only audio (a GStreamer PCMU peer:
//!   128 ms packets reach past the keyframe where the video starts) plays and verifies.
#![cfg(feature = "sim")]

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use camwire::export::{ExportOptions, OutputFormat, export, ranges, verify};
use camwire::record::{CameraConfig, SegmentOptions, record_camera};
use camwire::rtsp::{SourceOptions, Transport};
use camwire::sim::{SimAudio, SimCamera, SimOptions, pcmu_sample};
use support::av::{find, framemd5, mulaw_bytes, run_silent};
use support::gst::{GstPeer, assert_decodes_cleanly, clip_dir};
use support::{mp4_files, tmp};

/// Records the sim (its clip once, `secs` of media, then RTCP BYE) into `root` in 4 s files.
fn record_sim(root: &Path, audio: Option<SimAudio>, secs: u64) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sim = rt
        .block_on(SimCamera::start(SimOptions {
            audio,
            max_duration: Some(Duration::from_secs(secs)),
            ..SimOptions::default()
        }))
        .expect("sim");
    record_url(&rt, &sim.rtsp_url(), root, secs);
}

/// Records `url` into `root` in 4 s files until the server's RTCP BYE.
fn record_url(rt: &tokio::runtime::Runtime, url: &str, root: &Path, secs: u64) {
    let cfg = CameraConfig {
        id: "cam".into(),
        url: url.to_string(),
        source: SourceOptions {
            transport: Transport::Tcp,
            ..SourceOptions::default()
        },
        segment: SegmentOptions {
            segment_secs: 4,
            ..SegmentOptions::default()
        },
        depacketizer: Default::default(),
        backfill: None,
    };
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    let report = rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(secs + 30),
            record_camera(cfg, root.to_path_buf(), stop),
        )
        .await
        .expect("the recording ends with the server's BYE")
        .expect("record")
    });
    assert!(report.ended_by_camera, "{report:?}");
}

/// Where `got` starts in the sim's µ-law sequence (its period is 8 s), checking every byte.
fn sim_run_start(got: &[u8]) -> u64 {
    let probe = got.len().min(400) as u64;
    let start = (0..8 * 8000u64)
        .find(|&n| (0..probe).all(|i| pcmu_sample(n + i) == got[i as usize]))
        .expect("the audio is the sim's");
    for (i, b) in got.iter().enumerate() {
        assert_eq!(
            *b,
            pcmu_sample(start + i as u64),
            "audio byte {i} of {} breaks the sim's sequence",
            got.len()
        );
    }
    start
}

#[test]
fn audio_runs_on_across_file_cuts() {
    let root = tmp("xac-cuts");
    record_sim(&root, Some(SimAudio::Pcmu), 10);
    let files = mp4_files(&root);
    assert_eq!(files.len(), 3, "10 s in 4 s files: {files:?}");
    // The recordings' audio, concatenated. Measured, not assumed: whether the recorder lost
    // audio at its cuts (audio still in flight when a file starts is dropped) shows here.
    let per_file: Vec<Vec<u8>> = files.iter().map(|f| mulaw_bytes(f, true)).collect();
    let recorded: Vec<u8> = per_file.concat();
    let whole = std::panic::catch_unwind(|| sim_run_start(&recorded)).is_ok();
    eprintln!(
        "recorded audio: {:?} bytes per file, one unbroken run of the sim's: {whole}",
        per_file.iter().map(Vec::len).collect::<Vec<_>>()
    );
    let rec_video: Vec<String> = files
        .iter()
        .flat_map(|f| framemd5(f, "0:v:0", false, false))
        .map(|(_, m)| m)
        .collect();
    assert_eq!(rec_video.len(), 250, "every frame recorded");

    // 2.5 s .. 7.5 s: across the cut at 4 s (and up to the one at 8 s).
    let listing = ranges(&root, "cam", None, None).expect("ranges");
    assert_eq!(listing.ranges.len(), 1, "{listing:?}");
    let t1 = listing.ranges[0].start + Duration::from_millis(2_510);
    let t2 = t1 + Duration::from_secs(5);
    for format in [OutputFormat::Progressive, OutputFormat::Fragmented] {
        let out = root.join(format!("clip-{format:?}.mp4"));
        let opts = ExportOptions {
            format,
            ..ExportOptions::default()
        };
        let s = export(&root, "cam", t1, t2, &out, &opts).expect("export");
        let m = &s.manifest;
        let what = format!("{format:?}");
        assert_eq!(m.format, "camwire-export-manifest/2", "{what}");
        assert_eq!(m.tracks.len(), 2, "{what}: {:?}", m.tracks);
        assert_eq!(m.tracks[1].codec, "PCMU");
        let used: Vec<u64> = m
            .sources
            .iter()
            .map(|s| s.audio.iter().map(|a| a.samples).sum())
            .collect();
        assert!(
            used.iter().filter(|&&n| n > 0).count() >= 2,
            "{what}: audio from two files at least: {used:?}"
        );
        assert_eq!(used.iter().sum::<u64>(), m.tracks[1].samples, "{what}");
        assert!(m.sources.iter().all(|s| s.audio_dropped.is_empty()));

        // The clip's audio: one run of the recordings' and of the sim's sequence.
        let clip_audio = mulaw_bytes(&out, true);
        let secs = clip_audio.len() as f64 / 8000.0;
        assert!((4.9..5.3).contains(&secs), "{what}: {secs} s of audio");
        let at = find(&recorded, &clip_audio).unwrap_or_else(|| {
            panic!("{what}: the clip's audio is one run of the recordings' audio")
        });
        let n_first = sim_run_start(&clip_audio);
        eprintln!(
            "{what}: {} audio bytes = recorded bytes {at}.., sim samples {n_first}.., \
             sources {used:?}",
            clip_audio.len()
        );
        let r = verify(&out).expect("verify");
        assert!(r.ok(), "{what}: {r:?}");

        if format == OutputFormat::Progressive {
            // Offset to the video, with the edit lists applied by ffmpeg: the first audio
            // packet's time minus the first frame's equals the sim's capture times of the
            // two (sample n at n / 8000 s, frame f at f × 40 ms).
            let v = framemd5(&out, "0:v:0", false, false);
            let frame = rec_video
                .iter()
                .position(|h| *h == v[0].1)
                .expect("the first frame is a recorded one");
            let a = framemd5(&out, "0:a:0", true, false);
            let got = a[0].0 - v[0].0;
            // The sim's sample index is counted from the session's first audio sample,
            // captured with video frame 0; its sequence repeats every 8 s (64000 samples),
            // and this clip starts in the first 8 s.
            let want = n_first as f64 / 8000.0 - frame as f64 * 0.040;
            eprintln!(
                "{what}: first frame {frame}, audio - video {:.4} s, sim says {:.4} s",
                got, want
            );
            assert!(
                (got - want).abs() < 0.002,
                "{what}: audio - video {got} s, the sim captured them {want} s apart"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn audio_that_does_not_fit_the_clip_is_named_in_the_manifest() {
    let root = tmp("xac-dropped");
    // Three sessions one after the other: video only, then PCMU, then AAC.
    for audio in [None, Some(SimAudio::Pcmu), Some(SimAudio::Aac)] {
        record_sim(&root, audio, 3);
    }
    let files = mp4_files(&root);
    assert_eq!(files.len(), 3, "{files:?}");
    let listing = ranges(&root, "cam", None, None).expect("ranges");
    let last = listing.ranges.last().expect("a range");
    // Where each session's file starts: its name (the UTC time of its first frame).
    let starts: Vec<SystemTime> = files
        .iter()
        .map(|f| {
            let n = f.file_stem().unwrap().to_string_lossy().to_string();
            let iso = format!(
                "{}-{}-{}T{}:{}:{}",
                &n[0..4],
                &n[4..6],
                &n[6..8],
                &n[9..11],
                &n[11..13],
                &n[13..]
            );
            camwire::export::parse_rfc3339(&iso).expect("a file name is a UTC time")
        })
        .collect();
    let rel = |i: usize| {
        files[i]
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/")
    };

    // From the PCMU session on: the clip's audio is PCMU; the AAC file's is left out.
    let out = root.join("from-pcmu.mp4");
    let t1 = starts[1] + Duration::from_millis(500);
    let t2 = last.end - Duration::from_millis(200);
    let s = export(&root, "cam", t1, t2, &out, &ExportOptions::default()).expect("export");
    let m = &s.manifest;
    assert_eq!(m.format, "camwire-export-manifest/2");
    assert_eq!(m.tracks.len(), 2, "{:?}", m.tracks);
    assert_eq!(m.tracks[1].codec, "PCMU");
    assert_eq!(m.sources.len(), 2, "{:?}", m.sources);
    assert_eq!(m.sources[1].path, rel(2));
    assert!(m.sources[0].audio_dropped.is_empty());
    let d = &m.sources[1].audio_dropped;
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(
        (
            d[0].codec.as_str(),
            d[0].sample_rate,
            d[0].reason.as_str(),
            d[0].clip_track_id
        ),
        ("AAC", 16_000, "configuration-changed", Some(2)),
        "{d:?}"
    );
    assert!(m.sources[1].audio.is_empty(), "{:?}", m.sources[1]);
    // Its time: within the clip, about the AAC file's recording (3 s less the 0.2 s cut).
    let secs = |a: &str, b: &str| {
        let (a, b) = (
            camwire::export::parse_rfc3339(a).unwrap(),
            camwire::export::parse_rfc3339(b).unwrap(),
        );
        b.duration_since(a).unwrap().as_secs_f64()
    };
    let dropped = secs(&d[0].time.start, &d[0].time.end);
    assert!((2.5..3.1).contains(&dropped), "{dropped} s dropped: {d:?}");
    assert!(verify(&out).expect("verify").ok());
    let json = std::fs::read_to_string(&s.manifest_path).unwrap();
    assert!(json.contains("\"audio_dropped\""), "{json}");

    // From the video-only session on: no audio track; both later files' audio is named.
    let out = root.join("from-video-only.mp4");
    let t1 = starts[0] + Duration::from_millis(500);
    let s = export(&root, "cam", t1, t2, &out, &ExportOptions::default()).expect("export");
    let m = &s.manifest;
    assert_eq!(m.format, "camwire-export-manifest/1", "no audio track");
    assert_eq!(m.tracks.len(), 1, "{:?}", m.tracks);
    assert_eq!(m.sources.len(), 3, "{:?}", m.sources);
    let dropped: Vec<(String, String, Option<u32>)> = m
        .sources
        .iter()
        .flat_map(|s| {
            s.audio_dropped
                .iter()
                .map(|d| (d.codec.clone(), d.reason.clone(), d.clip_track_id))
        })
        .collect();
    assert_eq!(
        dropped,
        [
            ("PCMU".into(), "not-in-first-file".into(), None),
            ("AAC".into(), "not-in-first-file".into(), None)
        ],
        "{:?}",
        m.sources
    );
    assert!(verify(&out).expect("verify").ok());
    let _ = std::fs::remove_dir_all(&root);
}

/// A fragmented clip whose first output fragment carries only audio (its video `traf`
/// empty): GStreamer's PCMU payloader sends 128 ms packets, so the last audio packet of a
/// source fragment runs on past the keyframe that starts the next one. With T1 on that
/// keyframe, the audio the clip presents begins in the fragment before the video's first.
/// ffprobe reads it silently, ffmpeg decodes it, its audio bytes are one run of the
/// recording's, and verify passes.
#[test]
fn fragmented_clip_with_an_audio_only_fragment() {
    let dir = clip_dir();
    // The clip of export_audio.rs (same name, same bytes: one x264 thread, seeded noise).
    let path = dir.join("xa-h264-pcmu-320x240-10s.mov");
    if !path.exists() {
        let part = dir.join(format!("xac.{}.part.mov", std::process::id()));
        let out = Command::new("ffmpeg")
            .args([
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=320x240:rate=25",
            ])
            .args(["-f", "lavfi", "-i"])
            .arg("anoisesrc=color=pink:seed=7:amplitude=0.3:sample_rate=8000")
            .args([
                "-t", "10", "-c:v", "libx264", "-preset", "veryfast", "-g", "25",
            ])
            .args([
                "-bf", "0", "-threads", "1", "-pix_fmt", "yuv420p", "-b:v", "300k",
            ])
            .args(["-ac", "1", "-c:a", "pcm_mulaw"])
            .arg(&part)
            .output()
            .expect("run ffmpeg");
        assert!(out.status.success(), "ffmpeg encoding the clip: {out:?}");
        std::fs::rename(&part, &path).unwrap();
    }
    let server = GstPeer::start(
        "gst_rtsp_server.py",
        [path.to_str().unwrap(), "--audio", "pcmu"],
    );
    let root = tmp("xac-audio-only");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    record_url(&rt, server.url(), &root, 10);
    drop(server);
    let files = mp4_files(&root);
    let recorded: Vec<u8> = files.iter().flat_map(|f| mulaw_bytes(f, true)).collect();

    // T1 just after the wall clock of a keyframe fragment whose previous fragment's audio
    // runs past it (GStreamer's 128 ms PCMU packets end up to ~100 ms after the keyframe,
    // by how the packets fall: picked from the recording, not assumed of one keyframe).
    let scan =
        camwire::fmp4::scan_fragments(&mut std::fs::File::open(&files[0]).unwrap()).expect("scan");
    let rate = f64::from(scan.audio.first().expect("an audio track").config.timescale);
    let vrate = f64::from(scan.track.as_ref().expect("video").timescale);
    let candidates: Vec<(u64, f64)> = scan
        .fragments
        .windows(2)
        .filter(|w| w[1].first_is_keyframe && w[1].ntp.is_some())
        .filter_map(|w| {
            let a = w[0].audio.first()?;
            let audio_end = (a.base_decode_time + a.duration) as f64 / rate;
            let overrun = audio_end - w[1].base_decode_time as f64 / vrate;
            (overrun > 0.004).then_some((w[1].ntp?, overrun))
        })
        .collect();
    assert!(
        !candidates.is_empty(),
        "no fragment's audio runs past the next keyframe"
    );
    // Whether the last audio packet is still on screen at the frame the clip starts at
    // depends on where the packets fell against the prft clock of the fragment: try each
    // keyframe until one gives the case (each export is checked all the same).
    let opts = ExportOptions {
        format: OutputFormat::Fragmented,
        ..ExportOptions::default()
    };
    let mut found = None;
    for (n, (ntp, overrun)) in candidates.iter().copied().enumerate() {
        let keyframe = std::time::UNIX_EPOCH
            + Duration::from_secs((ntp >> 32) - 2_208_988_800)
            + Duration::from_nanos(((ntp & 0xffff_ffff) * 1_000_000_000) >> 32);
        let t1 = keyframe + Duration::from_secs_f64((overrun / 2.0).min(0.010));
        let out = root.join(format!("clip-{n}.mp4"));
        let s = export(&root, "cam", t1, t1 + Duration::from_secs(2), &out, &opts).expect("export");
        let clip = camwire::fmp4::scan_fragments(&mut std::fs::File::open(&out).unwrap())
            .expect("scan the clip");
        let audio_only = clip
            .fragments
            .iter()
            .filter(|f| f.sample_count == 0 && f.audio.iter().any(|a| a.sample_count > 0))
            .count();
        eprintln!(
            "keyframe {n}: {} output fragments, {audio_only} audio only; audio {} samples",
            clip.fragments.len(),
            s.manifest.tracks.get(1).map_or(0, |t| t.samples)
        );
        assert!(audio_only <= 1, "at most the fragment before the keyframe");
        assert!(verify(&out).expect("verify").ok(), "{}", out.display());
        if audio_only == 1 {
            found = Some((out, clip));
            break;
        }
    }
    let (out, clip) = found.expect("one of the keyframes gives an audio-only fragment");
    assert_eq!(
        clip.fragments.first().map(|f| f.sample_count),
        Some(0),
        "it comes first"
    );
    run_silent(
        Command::new("ffprobe")
            .args(["-v", "error", "-show_entries", "stream=codec_name"])
            .arg(&out),
    );
    assert_decodes_cleanly(&out);
    let clip_audio = mulaw_bytes(&out, true);
    assert!(
        find(&recorded, &clip_audio).is_some(),
        "the clip's audio is one run of the recording's"
    );
    let r = verify(&out).expect("verify");
    assert!(r.ok(), "{r:?}");
    let _ = std::fs::remove_dir_all(&root);
}

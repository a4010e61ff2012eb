#![cfg(feature = "sim")]
//! The sim camera serving H.265 video with PCMU or AAC audio (`SimOptions::video_codec`,
//! `SimOptions::audio`), checked by clients written by others (ffprobe, ffmpeg) and by our own
//! `camwire::rtsp::Source`: codecs as announced, audio packets byte for byte what the sim says
//! it sent (`SimAudio::frame`), video decoding to the H.265 fixture's frames, both streams'
//! sender reports on one wall clock. Run with
//! `cargo nextest run -p camwire --all-features --test sim_av`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use camwire::rtsp::{Source, SourceEvent, SourceOptions, TrackKind, Transport};
use camwire::sim::{SimAudio, SimCamera, SimOptions, VideoCodec};
use md5::{Digest as _, Md5};

fn have_ffmpeg() -> bool {
    Command::new("ffmpeg").arg("-version").output().is_ok()
        && Command::new("ffprobe").arg("-version").output().is_ok()
}

fn h265_clip_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/sim_clip.h265")
}

/// An H.265 sim with `audio`, paced or not, ending with BYE after `max` of media.
async fn av_sim(audio: SimAudio, realtime: bool, max: Option<Duration>) -> SimCamera {
    SimCamera::start(SimOptions {
        video_codec: VideoCodec::H265,
        audio: Some(audio),
        realtime,
        max_duration: max,
        onvif: None,
        recording: None,
        ..SimOptions::default()
    })
    .await
    .expect("sim starts")
}

/// Runs ffmpeg with `args` and returns stdout; panics with stderr on failure.
fn ffmpeg(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool)
        .args(["-v", "error"])
        .args(args)
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "{tool} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The hash column of framemd5 output (the sixth: side data, which ffmpeg adds to received
/// RTP packets, follows it).
fn hashes(framemd5: &str) -> Vec<String> {
    framemd5
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(',').nth(5).map(|h| h.trim().to_owned()))
        .collect()
}

fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffprobe_reports_hevc_with_pcmu_or_aac_over_tcp_and_udp() {
    if !have_ffmpeg() {
        eprintln!("skipping: ffmpeg not installed");
        return;
    }
    let mut runs = Vec::new();
    let mut sims = Vec::new();
    for (audio, codec, rate) in [
        (SimAudio::Pcmu, "pcm_mulaw", "8000"),
        (SimAudio::Aac, "aac", "16000"),
    ] {
        let sim = av_sim(audio, true, None).await;
        for transport in ["tcp", "udp"] {
            let url = sim.rtsp_url();
            runs.push((
                codec,
                rate,
                transport,
                tokio::task::spawn_blocking(move || {
                    ffmpeg(
                        "ffprobe",
                        &[
                            "-rtsp_transport",
                            transport,
                            "-show_entries",
                            "stream=codec_type,codec_name,sample_rate,channels,width,height",
                            "-of",
                            "compact=p=0",
                            &url,
                        ],
                    )
                }),
            ));
        }
        // Kept alive until the probes are done.
        sims.push(sim);
    }
    for (codec, rate, transport, run) in runs {
        let out = run.await.unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{transport}: two streams: {out}");
        assert!(
            lines[0].contains("codec_name=hevc")
                && lines[0].contains("width=640")
                && lines[0].contains("height=360"),
            "{transport}: {out}"
        );
        assert!(
            lines[1].contains(&format!("codec_name={codec}"))
                && lines[1].contains(&format!("sample_rate={rate}"))
                && lines[1].contains("channels=1"),
            "{transport}: {out}"
        );
    }
    for sim in sims {
        sim.shutdown().await;
    }
}

/// ffmpeg over TCP copies the audio packets (framemd5 of each) and decodes the video until
/// the sim's BYE after 3 s of media; audio must be exactly frames 0.. of `audio`, video the
/// fixture's first 75 decoded frames.
async fn ffmpeg_receives_what_the_sim_sent(audio: SimAudio) {
    let sim = av_sim(audio, false, Some(Duration::from_secs(3))).await;
    let url = sim.rtsp_url();
    let dir = std::env::temp_dir().join(format!("camwire-sim-av-{}-{audio:?}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a_path, v_path) = (dir.join("audio.md5"), dir.join("video.md5"));
    let (a, v) = (a_path.clone(), v_path.clone());
    tokio::task::spawn_blocking(move || {
        ffmpeg(
            "ffmpeg",
            &[
                "-nostdin",
                "-y",
                "-rtsp_transport",
                "tcp",
                "-i",
                &url,
                "-map",
                "0:a",
                "-c",
                "copy",
                "-f",
                "framemd5",
                a.to_str().unwrap(),
                "-map",
                "0:v",
                // Every decoded frame once (no duplication to a constant rate).
                "-fps_mode",
                "passthrough",
                "-f",
                "framemd5",
                v.to_str().unwrap(),
            ],
        )
    })
    .await
    .unwrap();
    let got_audio = hashes(&std::fs::read_to_string(&a_path).unwrap());
    let got_video = hashes(&std::fs::read_to_string(&v_path).unwrap());
    let _ = std::fs::remove_dir_all(&dir);

    // 3 s of media: ceil(3 s / frame duration) audio frames, 75 video frames.
    let frame_us = audio.frame_duration().as_micros() as u64;
    let n_audio = 3_000_000u64.div_ceil(frame_us);
    let want_audio: Vec<String> = (0..n_audio).map(|k| md5_hex(&audio.frame(k))).collect();
    assert_eq!(got_audio.len(), want_audio.len(), "{audio:?} packets");
    assert_eq!(got_audio, want_audio, "{audio:?} packets byte for byte");

    let clip = h265_clip_path();
    let want_video = hashes(&ffmpeg(
        "ffmpeg",
        &[
            "-i",
            clip.to_str().unwrap(),
            "-frames:v",
            "75",
            "-f",
            "framemd5",
            "-",
        ],
    ));
    assert_eq!(want_video.len(), 75);
    assert_eq!(
        got_video, want_video,
        "decoded H.265 frames = the fixture's"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_copies_pcmu_byte_for_byte_and_decodes_the_h265_clip() {
    if !have_ffmpeg() {
        eprintln!("skipping: ffmpeg not installed");
        return;
    }
    ffmpeg_receives_what_the_sim_sent(SimAudio::Pcmu).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_copies_aac_byte_for_byte_and_decodes_the_h265_clip() {
    if !have_ffmpeg() {
        eprintln!("skipping: ffmpeg not installed");
        return;
    }
    ffmpeg_receives_what_the_sim_sent(SimAudio::Aac).await;
}

/// The documented µ-law formula is G.711 as FFmpeg's encoder computes it: one second of the
/// tone's linear samples through `-c:a pcm_mulaw` gives the sim's bytes.
#[test]
fn pcmu_bytes_equal_ffmpegs_mulaw_encoding() {
    if !have_ffmpeg() {
        eprintln!("skipping: ffmpeg not installed");
        return;
    }
    let n = 16_000u64; // two seconds: two loudness steps
    let mut linear = Vec::with_capacity(2 * n as usize);
    for i in 0..n {
        let amplitude = 2000.0 + 2000.0 * ((i / 8000) % 8) as f64;
        let phase = 2.0 * std::f64::consts::PI * 441.0 * ((i % 8000) as f64) / 8000.0;
        let x = (amplitude * phase.sin()).round() as i16;
        linear.extend_from_slice(&x.to_le_bytes());
    }
    let dir = std::env::temp_dir().join(format!("camwire-sim-mulaw-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (src, dst) = (dir.join("tone.s16"), dir.join("tone.ul"));
    std::fs::write(&src, &linear).unwrap();
    ffmpeg(
        "ffmpeg",
        &[
            "-nostdin",
            "-y",
            "-f",
            "s16le",
            "-ar",
            "8000",
            "-ac",
            "1",
            "-i",
            src.to_str().unwrap(),
            "-c:a",
            "pcm_mulaw",
            "-f",
            "mulaw",
            dst.to_str().unwrap(),
        ],
    );
    let theirs = std::fs::read(&dst).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let ours: Vec<u8> = (0..n / 160).flat_map(|k| SimAudio::Pcmu.frame(k)).collect();
    assert_eq!(theirs.len(), ours.len());
    let differ = theirs.iter().zip(&ours).filter(|(a, b)| a != b).count();
    assert_eq!(differ, 0, "bytes differing from ffmpeg's pcm_mulaw");
}

/// Our own client with default options (`audio: First`) sets the audio up as track 1 and
/// gets the sim's exact payloads; audio and video sender reports put their streams on one
/// wall clock (the sim's capture schedule), to the NTP unit's rounding.
async fn own_client_receives(audio: SimAudio, transport: Transport, encoding: &str) {
    // Paced: sender reports are stamped from the schedule only when paced.
    let sim = av_sim(audio, true, Some(Duration::from_secs(2))).await;
    let opts = SourceOptions {
        transport,
        ..SourceOptions::default()
    };
    let mut source = Source::connect(&sim.rtsp_url(), opts)
        .await
        .expect("connects");
    assert_eq!(source.video_codec(), VideoCodec::H265);
    let tracks = source.tracks().to_vec();
    assert_eq!(tracks.len(), 2, "{tracks:?}");
    let a = &tracks[1];
    assert_eq!(a.kind, Some(TrackKind::Audio));
    assert_eq!(a.track, Some(1), "{a:?}");
    assert!(a.section.encoding.eq_ignore_ascii_case(encoding), "{a:?}");
    assert_eq!(a.section.clock_rate, audio.clock_rate());
    let video_rtptime = tracks[0].rtptime.expect("RTP-Info rtptime of the video");
    let audio_rtptime = a.rtptime.expect("RTP-Info rtptime of the audio");

    let mut payloads = Vec::new();
    let mut video_packets = 0usize;
    let mut video_sr = None;
    let mut audio_sr = None;
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(20), source.next())
            .await
            .expect("an event within 20 s")
            .expect("no error");
        match ev {
            Some(SourceEvent::Audio { track, pkt }) => {
                assert_eq!(track, 1);
                assert_eq!(pkt.payload_type, audio.payload_type());
                let k = u64::from(
                    pkt.timestamp.wrapping_sub(audio_rtptime) / audio.samples_per_frame(),
                );
                payloads.push((k, pkt.payload.to_vec()));
            }
            Some(SourceEvent::Rtp(_)) => video_packets += 1,
            Some(SourceEvent::SenderReport { ntp, rtp_timestamp }) => {
                video_sr.get_or_insert((ntp, rtp_timestamp));
            }
            Some(SourceEvent::AudioSenderReport {
                track,
                ntp,
                rtp_timestamp,
            }) => {
                assert_eq!(track, 1);
                audio_sr.get_or_insert((ntp, rtp_timestamp));
            }
            Some(SourceEvent::Bye) | None => break,
        }
    }
    let n_audio = 2_000_000u64.div_ceil(audio.frame_duration().as_micros() as u64);
    if transport == Transport::Tcp {
        assert_eq!(
            payloads.len() as u64,
            n_audio,
            "every audio packet over TCP"
        );
    } else {
        // Loopback UDP at 25 fps should lose nothing, but a loaded machine may drop a few.
        assert!(payloads.len() as u64 >= n_audio / 2, "{}", payloads.len());
    }
    for (k, p) in &payloads {
        assert_eq!(*p, audio.rtp_payload(*k), "{audio:?} packet {k}");
    }
    assert!(video_packets >= 50, "{video_packets} video packets");

    // Capture time of the stream's first frame by each stream's first report.
    let (v_ntp, v_rtp) = video_sr.expect("a video sender report");
    let (a_ntp, a_rtp) = audio_sr.expect("an audio sender report");
    let since = |rtp: u32, base: u32, rate: u32| -> u64 {
        (u64::from(rtp.wrapping_sub(base)) << 32) / u64::from(rate)
    };
    let v_start = v_ntp - since(v_rtp, video_rtptime, 90_000);
    let a_start = a_ntp - since(a_rtp, audio_rtptime, audio.clock_rate());
    // A few NTP units (< 1 µs) of rounding; a scheduler-based stamp would be ms apart.
    assert!(
        v_start.abs_diff(a_start) < 16,
        "video starts at {v_start:#x}, audio at {a_start:#x}"
    );
    // Dropping the source sends TEARDOWN for the aggregate session: both streams go.
    drop(source);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while sim.stats().active_sessions != 0 {
        assert!(std::time::Instant::now() < deadline, "session torn down");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_client_sets_up_pcmu_as_track_1_over_tcp() {
    own_client_receives(SimAudio::Pcmu, Transport::Tcp, "PCMU").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_client_sets_up_aac_as_track_1_over_tcp_and_udp() {
    own_client_receives(SimAudio::Aac, Transport::Tcp, "MPEG4-GENERIC").await;
    own_client_receives(SimAudio::Aac, Transport::Udp, "MPEG4-GENERIC").await;
}

/// A hostile camera stays hostile with audio: [`HostileMode::Stall`] goes quiet on both
/// streams after the clean start (2 s: 100 PCMU packets), so only the read timeout ends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalling_camera_stalls_its_audio_too() {
    let sim = SimCamera::start(SimOptions {
        video_codec: VideoCodec::H265,
        audio: Some(SimAudio::Pcmu),
        hostile: Some(camwire::sim::HostileMode::Stall),
        onvif: None,
        recording: None,
        ..SimOptions::default()
    })
    .await
    .expect("sim starts");
    let opts = SourceOptions {
        idle_timeout: Duration::from_secs(2),
        ..SourceOptions::default()
    };
    let mut source = Source::connect(&sim.rtsp_url(), opts)
        .await
        .expect("connects");
    let mut audio = 0u64;
    let err = loop {
        match tokio::time::timeout(Duration::from_secs(30), source.next())
            .await
            .expect("the idle timeout fires first")
        {
            Ok(Some(SourceEvent::Audio { pkt, .. })) => {
                assert_eq!(pkt.payload, SimAudio::Pcmu.rtp_payload(audio));
                audio += 1;
            }
            Ok(Some(_)) => {}
            Ok(None) => panic!("the stream ended instead of stalling"),
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), camwire::ErrorKind::Timeout, "{err}");
    assert_eq!(audio, 100, "2 s of 20 ms packets, then nothing");
    drop(source);
    sim.shutdown().await;
}

/// Replay (Profile G) serves the configured codec's clip, video only: with H.265 and audio
/// on, the replay SDP has one `H265/90000` section, and 2 s of recording arrive as 50 H.265
/// access units whose first packet is the VPS+SPS+PPS aggregation packet (type 48).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_serves_the_h265_clip_video_only() {
    use camwire::rtsp::client::{
        ClientOptions, Packet, PlayOptions, Range, RtspClient, SetupTransport,
    };
    let sim = SimCamera::start(SimOptions {
        video_codec: VideoCodec::H265,
        audio: Some(SimAudio::Aac),
        onvif: None,
        ..SimOptions::default()
    })
    .await
    .expect("sim starts");
    let rec = sim.recording().expect("a recording by default");
    let url = sim.replay_url().expect("replay URL");
    let mut c = RtspClient::connect(url.parse().expect("url"), ClientOptions::default())
        .await
        .expect("connect");
    let p = c.describe().await.expect("DESCRIBE");
    assert_eq!(p.streams.len(), 1, "replay is video only");
    let sdp = String::from_utf8_lossy(&p.sdp).into_owned();
    assert!(sdp.contains("a=rtpmap:96 H265/90000"), "{sdp}");
    assert!(!sdp.contains("m=audio"), "{sdp}");
    c.setup(0, SetupTransport::Tcp).await.expect("SETUP");
    let start = rec.start + Duration::from_secs(60);
    let ts = |t: std::time::SystemTime| jiff::Timestamp::try_from(t).unwrap();
    c.play(&PlayOptions {
        range: Range::Clock {
            start: ts(start),
            end: Some(ts(start + Duration::from_secs(2))),
        },
        rate_control: Some(false),
        require: vec!["onvif-replay".into()],
        ..Default::default()
    })
    .await
    .expect("PLAY");
    let mut first_type = None;
    let mut access_units = 0;
    loop {
        let item = tokio::time::timeout(Duration::from_secs(20), c.next())
            .await
            .expect("a packet within 20 s")
            .expect("no error");
        match item {
            Some(Packet::Rtp { data, .. }) => {
                let pkt = camwire::rtp::RtpPacket::parse(data).expect("RTP");
                first_type.get_or_insert((pkt.payload[0] >> 1) & 0x3f);
                access_units += usize::from(pkt.marker);
            }
            Some(Packet::Rtcp { data, .. }) => {
                if matches!(camwire::rtsp::rtcp_event(&data), Some(SourceEvent::Bye)) {
                    break;
                }
            }
            None => break,
        }
    }
    assert_eq!(first_type, Some(48), "VPS+SPS+PPS aggregation packet first");
    assert_eq!(access_units, 50, "2 s of 25 fps");
    sim.shutdown().await;
}

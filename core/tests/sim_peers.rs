#![cfg(feature = "sim")]
//! Real clients written by others must accept `camwire::sim`: retina (over TCP and UDP, with
//! and without Digest auth) and ffmpeg (decoded frames hash the same as decoding the source
//! clip directly). Run with `cargo test -p camwire --features sim --test sim_peers`.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use camwire::sim::{Packetization, SimCamera, SimOptions, clip, clip_access_units};
use futures::StreamExt as _;
use retina::client::{
    Credentials, PlayOptions, Session, SessionOptions, SetupOptions, TcpTransportOptions,
    Transport, UdpTransportOptions,
};
use retina::codec::CodecItem;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Access unit `i` of the clip as retina frames it: each NAL with a 4-byte big-endian length.
fn expected_avc(i: usize) -> Vec<u8> {
    let aus = clip_access_units();
    let mut out = Vec::new();
    for r in &aus[i % aus.len()] {
        out.extend_from_slice(&(r.len() as u32).to_be_bytes());
        out.extend_from_slice(&clip()[r.clone()]);
    }
    out
}

fn tcp() -> Transport {
    Transport::Tcp(TcpTransportOptions::default())
}

fn udp() -> Transport {
    Transport::Udp(UdpTransportOptions::default())
}

/// Plays `url` with retina and returns the first `n` frames as (RTP timestamp, data).
async fn retina_frames(
    url: &str,
    creds: Option<(&str, &str)>,
    transport: Transport,
    n: usize,
) -> Result<Vec<(i64, Vec<u8>)>, retina::Error> {
    let creds = creds.map(|(u, p)| Credentials {
        username: u.to_owned(),
        password: p.to_owned(),
    });
    let mut session = Session::describe(
        url::Url::parse(url).expect("sim URL parses"),
        SessionOptions::default().creds(creds),
    )
    .await?;
    session
        .setup(0, SetupOptions::default().transport(transport))
        .await?;
    let mut demuxed = session.play(PlayOptions::default()).await?.demuxed()?;
    let mut frames = Vec::with_capacity(n);
    while frames.len() < n {
        let item = tokio::time::timeout(Duration::from_secs(20), demuxed.next())
            .await
            .expect("a frame within 20 s")
            .expect("stream does not end")?;
        if let CodecItem::VideoFrame(f) = item {
            assert_eq!(f.loss(), 0, "no packet loss on loopback");
            frames.push((f.timestamp().timestamp(), f.into_data()));
        }
    }
    Ok(frames)
}

/// Asserts frames equal the clip's access units from the first one, 3600 ticks apart.
fn assert_frames_match_clip(frames: &[(i64, Vec<u8>)]) {
    for (i, (ts, data)) in frames.iter().enumerate() {
        assert!(
            *data == expected_avc(i),
            "frame {i} differs from the source access unit ({} vs {} bytes)",
            data.len(),
            expected_avc(i).len()
        );
        if i > 0 {
            assert_eq!(ts - frames[i - 1].0, 3600, "frame {i} timestamp step");
        }
    }
}

async fn fast_sim(opts: SimOptions) -> SimCamera {
    SimCamera::start(SimOptions {
        realtime: false,
        ..opts
    })
    .await
    .expect("sim starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retina_over_tcp_receives_the_clip() {
    let sim = fast_sim(SimOptions::default()).await;
    let frames = retina_frames(&sim.rtsp_url(), None, tcp(), 60)
        .await
        .expect("retina plays the sim over TCP");
    assert_frames_match_clip(&frames);
    let stats = sim.stats();
    assert_eq!(stats.clients_served, 1);
    assert!(stats.rtp_packets_sent >= 60);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retina_over_udp_receives_the_clip() {
    // Paced: unpaced UDP would overrun the receiver's socket buffer, as on a real network.
    let sim = SimCamera::start(SimOptions::default())
        .await
        .expect("sim starts");
    let frames = retina_frames(&sim.rtsp_url(), None, udp(), 60)
        .await
        .expect("retina plays the sim over UDP");
    assert_frames_match_clip(&frames);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retina_accepts_every_packetization_and_small_mtus() {
    for (packetization, mtu) in [
        (Packetization::SingleNalOnly, 1400),
        (Packetization::FuAAlways, 1400),
        (Packetization::Mixed, 200),
    ] {
        let sim = fast_sim(SimOptions {
            packetization,
            mtu,
            ..SimOptions::default()
        })
        .await;
        let frames = retina_frames(&sim.rtsp_url(), None, tcp(), 60)
            .await
            .unwrap_or_else(|e| panic!("{packetization:?} mtu {mtu}: {e}"));
        assert_frames_match_clip(&frames);
        sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retina_frames_continue_across_the_clip_loop() {
    let sim = fast_sim(SimOptions::default()).await;
    let frames = retina_frames(&sim.rtsp_url(), None, tcp(), 260)
        .await
        .expect("retina plays past the clip's end");
    // Frame 250 is the clip's first access unit again, 3600 ticks after frame 249.
    assert_frames_match_clip(&frames);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_auth_admits_the_right_password_only() {
    let sim = fast_sim(SimOptions {
        credentials: Some(("admin".into(), "s3cret".into())),
        ..SimOptions::default()
    })
    .await;
    let url = sim.rtsp_url();
    let frames = retina_frames(&url, Some(("admin", "s3cret")), tcp(), 10)
        .await
        .expect("right password plays");
    assert_frames_match_clip(&frames);

    for creds in [Some(("admin", "wrong")), Some(("nobody", "s3cret")), None] {
        let err = Session::describe(
            url::Url::parse(&url).unwrap(),
            SessionOptions::default().creds(creds.map(|(u, p)| Credentials {
                username: u.into(),
                password: p.into(),
            })),
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("DESCRIBE with {creds:?} must fail"));
        assert!(err.to_string().contains("401"), "{creds:?}: {err}");
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_clients_both_get_the_clip_from_its_start() {
    let sim = SimCamera::start(SimOptions::default())
        .await
        .expect("sim starts");
    let url = sim.rtsp_url();
    let (a, b) = tokio::join!(
        retina_frames(&url, None, tcp(), 30),
        retina_frames(&url, None, udp(), 30)
    );
    assert_frames_match_clip(&a.expect("TCP client"));
    assert_frames_match_clip(&b.expect("UDP client"));
    assert_eq!(sim.stats().clients_served, 2);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realtime_pacing_sends_25_frames_per_second() {
    let sim = SimCamera::start(SimOptions::default())
        .await
        .expect("sim starts");
    let start = Instant::now();
    let frames = retina_frames(&sim.rtsp_url(), None, tcp(), 51)
        .await
        .unwrap();
    let took = start.elapsed();
    assert_frames_match_clip(&frames);
    // Frame 50 is due 2 s after PLAY.
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(4),
        "{took:?}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_ends_only_its_own_connection() {
    let sim = SimCamera::start(SimOptions::default())
        .await
        .expect("sim starts");
    let url = sim.rtsp_url();
    let port = sim.port();
    let good = tokio::spawn(async move { retina_frames(&url, None, tcp(), 40).await });
    for garbage in [
        &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"[..],
        b"PLAY rtsp://x/stream RTSP/1.0\r\nbroken header\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    ] {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        s.write_all(garbage).await.unwrap();
        let mut reply = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut reply)).await;
        assert!(
            reply.starts_with(b"RTSP/1.0 "),
            "{:?}",
            String::from_utf8_lossy(&reply)
        );
    }
    // A request that never ends is cut off at the 64 KiB bound.
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let _ = s.write_all(&vec![b'A'; 70 * 1024]).await;
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut reply)).await;
    assert!(reply.starts_with(b"RTSP/1.0 400"));
    assert_frames_match_clip(&good.await.unwrap().expect("the good client keeps playing"));
    sim.shutdown().await;
}

/// The source clip, where ffmpeg can read it.
fn clip_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/sim_clip.h264")
}

fn have_ffmpeg() -> bool {
    Command::new("ffmpeg").arg("-version").output().is_ok()
}

/// Runs ffmpeg with `args` plus `-f framemd5 -` and returns the hash column per frame.
fn framemd5(args: &[&str]) -> Vec<String> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error"])
        .args(args)
        .args(["-f", "framemd5", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "ffmpeg {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit(',').next().map(|h| h.trim().to_owned()))
        .collect()
}

/// ffmpeg as an RTSP client over `transport` ("tcp" or "udp"), decoding `frames` frames
/// (all until the stream ends when `None`).
async fn ffmpeg_hashes(url: String, transport: &'static str, frames: Option<usize>) -> Vec<String> {
    tokio::task::spawn_blocking(move || {
        let n = frames.map(|n| n.to_string());
        let mut args = vec!["-rtsp_transport", transport, "-i", url.as_str()];
        if let Some(n) = &n {
            args.extend(["-frames:v", n.as_str()]);
        }
        framemd5(&args)
    })
    .await
    .unwrap()
}

fn source_hashes(frames: usize) -> Vec<String> {
    let n = frames.to_string();
    let path = clip_path();
    framemd5(&["-i", path.to_str().unwrap(), "-frames:v", &n])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_decodes_the_same_frames_over_tcp_and_udp() {
    if !have_ffmpeg() {
        eprintln!("skipping: ffmpeg not installed");
        return;
    }
    let want = source_hashes(50);
    assert_eq!(want.len(), 50);
    let fast = fast_sim(SimOptions::default()).await;
    let got = ffmpeg_hashes(fast.rtsp_url(), "tcp", Some(50)).await;
    assert_eq!(got, want, "ffmpeg over TCP");
    fast.shutdown().await;

    let paced = SimCamera::start(SimOptions::default()).await.unwrap();
    let got = ffmpeg_hashes(paced.rtsp_url(), "udp", Some(50)).await;
    assert_eq!(got, want, "ffmpeg over UDP");
    paced.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_stops_on_bye_after_max_duration() {
    if !have_ffmpeg() {
        eprintln!("skipping: ffmpeg not installed");
        return;
    }
    let sim = fast_sim(SimOptions {
        max_duration: Some(Duration::from_secs(2)),
        ..SimOptions::default()
    })
    .await;
    // No -frames:v: ffmpeg ends only because the sim says BYE after 2 s of media (50 frames).
    let got = tokio::time::timeout(
        Duration::from_secs(30),
        ffmpeg_hashes(sim.rtsp_url(), "tcp", None),
    )
    .await
    .expect("ffmpeg stops on BYE");
    assert_eq!(got, source_hashes(50));
    sim.shutdown().await;
}

#[test]
fn blocking_sim_answers_without_a_caller_runtime() {
    use std::io::{Read as _, Write as _};
    let sim = SimCamera::start_blocking(SimOptions::default()).expect("sim starts");
    assert!(sim.rtsp_url().ends_with(&format!(":{}/stream", sim.port())));
    let mut s = std::net::TcpStream::connect(("127.0.0.1", sim.port())).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n")
        .unwrap();
    let mut reply = [0u8; 512];
    let n = s.read(&mut reply).unwrap();
    let reply = String::from_utf8_lossy(&reply[..n]);
    assert!(
        reply.starts_with("RTSP/1.0 200 OK\r\nCSeq: 1\r\n"),
        "{reply}"
    );
    assert!(reply.contains("DESCRIBE"));
    assert_eq!(sim.stats().connections, 1);
    sim.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_end_with_teardown_or_disconnect() {
    let sim = fast_sim(SimOptions::default()).await;
    retina_frames(&sim.rtsp_url(), None, tcp(), 5)
        .await
        .unwrap();
    // Dropping retina's session tears it down in the background; wait for the sim to notice.
    let deadline = Instant::now() + Duration::from_secs(10);
    while sim.stats().active_sessions != 0 {
        assert!(
            Instant::now() < deadline,
            "session still active: {:?}",
            sim.stats()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(sim.stats().clients_served, 1);
    sim.shutdown().await;
}

/// camwire's own client over UDP: the sim sends BYE right behind the last frame, and retina
/// reads the RTCP socket before the RTP one, so the BYE overtakes whatever RTP is still
/// queued (seen against GStreamer's server: the last frame of a 60 s recording was lost).
/// Every frame the camera sent must still come out, equal to the source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camwire_over_udp_keeps_the_packets_a_bye_overtook() {
    use camwire::rtsp::{SourceOptions, Transport as CwTransport};
    use camwire::stream::LiveStream;
    // Unpaced: the whole 2 s is queued in the socket buffers before the BYE is read.
    let sim = fast_sim(SimOptions {
        max_duration: Some(Duration::from_secs(2)),
        ..SimOptions::default()
    })
    .await;
    let opts = SourceOptions {
        transport: CwTransport::Udp,
        ..SourceOptions::default()
    };
    let mut stream = LiveStream::open(&sim.rtsp_url(), opts)
        .await
        .expect("opens");
    let mut frames = Vec::new();
    while let Some(f) = tokio::time::timeout(Duration::from_secs(20), stream.next_frame())
        .await
        .expect("ends within 20 s")
        .expect("no error")
    {
        assert_eq!(f.loss, 0, "no packet loss on loopback");
        let mut data = Vec::new();
        f.write_avc(&mut data);
        frames.push((f.pts, data));
        stream.recycle(f);
    }
    assert_eq!(frames.len(), 50, "frames before the BYE");
    assert_frames_match_clip(&frames);
    sim.shutdown().await;
}

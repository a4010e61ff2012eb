//! camwire's own RTSP client against a real GStreamer RTSP server (gst-rtsp-server 1.22,
//! `examples/tests/support/gst_rtsp_server.py`) serving a file: the two replay acceptance
//! tests of issue 11, over TCP interleaved and UDP.
//!
//! - `PLAY` with `Range: npt=5-` starts 5 s in: the access units received, decoded by ffmpeg,
//!   are exactly the source's frames from frame 125 (5 s at 25 fps) to the end.
//! - `PAUSE` then `PLAY` (no `Range`) resumes with no frame lost or repeated: RTP sequence
//!   numbers run on without a gap or a repeat, nothing but what was in flight arrives while
//!   paused, and the decoded frames are exactly the source's from the first one to the end.
//!
//! What gst-rtsp-server does (rtsp-client.c `setup_play_mode`, rtsp-media.c
//! `gst_rtsp_media_seek_trickmode`, 1.22), and these tests pin:
//! - a `Range` with a start and no `Seek-Style` is a flushing `KEY_UNIT` seek: PLAY starts
//!   at the keyframe at or before the asked time (`npt=5.5-` starts at 5 s and is answered
//!   `Range: npt=5-10`), and the first packet is the one `RTP-Info` names;
//! - `PAUSE` takes the session's transports off the stream and pauses the pipeline; nothing
//!   is sent while paused, not even RTCP;
//! - a PLAY without `Range` after PAUSE does no seek at all ("no seek needed"): the pipeline
//!   goes on from the packet after the last one sent, which `RTP-Info` names, with RTP time
//!   running on as if there had been no pause (`Range: npt=<position>-10`). (A PLAY with a
//!   `Range` after PAUSE seeks, and the packets prerolled before it are never sent: a gap
//!   in the sequence numbers that RTP-Info's seq marks.)
//! - at the end of the file it sends RTCP BYE and keeps the connection open: BYE ends our
//!   reading.
//!
//! The clip is encoded once (x264 with one thread, so every encode is bit-identical and
//! parallel test processes may race to write it) and cached in the target dir.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod export_support;
mod support;

use camwire::rtp::{DepacketizerOptions, H264Depacketizer, RtpPacket};
use camwire::rtsp::client::{
    ClientOptions, Packet, PlayOptions, PlayReply, Range, RtspClient, SetupTransport,
};
use camwire::rtsp::rtcp::{RtcpEvent, parse_compound};
use export_support::{assert_decodes_cleanly, framemd5, tmpdir};
use support::gst::GstPeer;
use url::Url;

/// Frames per second of the clip.
const FPS: usize = 25;
/// Frames in the clip (10 s).
const CLIP_FRAMES: usize = 10 * FPS;
/// RTP ticks per frame (90 kHz).
const TICKS: i64 = 90_000 / FPS as i64;
/// Longest a whole test may read.
const DEADLINE: Duration = Duration::from_secs(30);

/// 10 s of testsrc2, 320x240, 25 fps, x264 with a keyframe every second and no B-frames,
/// cached in the target dir.
fn clip() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("clips");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("testsrc2-320x240-10s-gop25-t1.mp4");
    if path.exists() {
        return path;
    }
    // One x264 thread: deterministic output, so a racing process writes the same bytes and
    // the rename below is all the coordination needed.
    let part = dir.join(format!("gop25-t1.{}.part.mp4", std::process::id()));
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc2=size=320x240:rate=25")
        .args(["-t", "10", "-c:v", "libx264", "-threads", "1", "-preset"])
        .args(["veryfast", "-bf", "0", "-g", "25", "-keyint_min", "25"])
        .args(["-sc_threshold", "0", "-pix_fmt", "yuv420p", "-b:v", "300k"])
        .arg(&part)
        .output()
        .expect("run ffmpeg");
    assert!(out.status.success(), "ffmpeg encoding the clip: {out:?}");
    std::fs::rename(&part, &path).unwrap();
    path
}

/// The clip's decoded frames (MD5 each).
fn source_frames() -> Vec<String> {
    let source = framemd5(&clip(), &[]);
    assert_eq!(source.len(), CLIP_FRAMES);
    source
}

/// What one session received.
#[derive(Default)]
struct Received {
    /// Every RTP packet's sequence number and RTP timestamp, in arrival order.
    packets: Vec<(u16, u32)>,
    /// Each access unit's 64-bit RTP timestamp and whether it is a keyframe.
    aus: Vec<(i64, bool)>,
    /// The access units in Annex B form (start code before each NAL unit).
    annexb: Vec<u8>,
}

/// A connected, set-up session with its depacketizer.
struct Session {
    client: RtspClient,
    depack: H264Depacketizer,
    got: Received,
    bye: bool,
}

impl Session {
    async fn open(url: Url, transport: SetupTransport) -> Session {
        let mut client = RtspClient::connect(url, ClientOptions::default())
            .await
            .unwrap();
        let sprop = {
            let p = client.describe().await.unwrap();
            assert_eq!(p.streams.len(), 1);
            assert!(p.streams[0].section.is_h264());
            p.streams[0]
                .section
                .fmtp_param("sprop-parameter-sets")
                .map(str::to_string)
        };
        client.setup(0, transport).await.unwrap();
        // No loss is expected: a reorder window could only hide a bug.
        let opts = DepacketizerOptions {
            reorder_window: 0,
            ..Default::default()
        };
        Session {
            client,
            depack: H264Depacketizer::new(opts, sprop.as_deref()),
            got: Received::default(),
            bye: false,
        }
    }

    async fn play(&mut self, range: Range) -> PlayReply {
        self.client
            .play(&PlayOptions {
                range,
                ..Default::default()
            })
            .await
            .unwrap()
    }

    /// Takes one packet; true for RTP.
    fn take(&mut self, p: Packet) -> bool {
        match p {
            Packet::Rtp { data, .. } => {
                let pkt = RtpPacket::parse(data).unwrap();
                self.got.packets.push((pkt.sequence_number, pkt.timestamp));
                self.depack.push(pkt).unwrap();
                self.drain_aus();
                true
            }
            Packet::Rtcp { data, .. } => {
                if parse_compound(&data) == Some(RtcpEvent::Bye) {
                    self.bye = true;
                }
                false
            }
        }
    }

    fn drain_aus(&mut self) {
        while let Some(au) = self.depack.pull() {
            assert!(
                !au.damaged && au.loss == 0,
                "access unit {} at RTP time {}: damaged {}, {} packets lost",
                self.got.aus.len(),
                au.timestamp,
                au.damaged,
                au.loss
            );
            let out = &mut self.got.annexb;
            if let Some(ps) = &au.new_parameters {
                for nal in [&ps.sps, &ps.pps] {
                    out.extend_from_slice(&[0, 0, 0, 1]);
                    out.extend_from_slice(nal);
                }
            }
            for nal in &au.nals {
                out.extend_from_slice(&[0, 0, 0, 1]);
                for piece in au.nal_pieces(nal) {
                    out.extend_from_slice(piece);
                }
            }
            self.got.aus.push((au.timestamp, au.keyframe));
            self.depack.recycle(au);
        }
    }

    /// The next packet within `wait`; None on timeout. Panics when the server closes.
    async fn next_within(&mut self, wait: Duration) -> Option<Packet> {
        match tokio::time::timeout(wait, self.client.next()).await {
            Ok(r) => Some(r.unwrap().expect("server closed the connection")),
            Err(_) => None,
        }
    }

    /// Reads until `done` says so or RTCP BYE; returns false on BYE.
    async fn read_until(&mut self, mut done: impl FnMut(&Received) -> bool) -> bool {
        let end = Instant::now() + DEADLINE;
        while !self.bye {
            if done(&self.got) {
                return true;
            }
            let left = end.saturating_duration_since(Instant::now());
            let p = self
                .next_within(left)
                .await
                .expect("no BYE before the deadline");
            self.take(p);
        }
        // The last packet's marker bit ended the last access unit.
        assert!(
            self.depack.flush().is_none(),
            "an access unit was still open at BYE"
        );
        false
    }

    /// Writes the access units received so far to `dir/name.h264` (raw H.264, which ffmpeg
    /// recognises by the extension) and decodes them: ffmpeg must not say a word (a decoding
    /// error is a lost or damaged frame); returns the frames' MD5s.
    fn decoded(&self, dir: &Path, name: &str) -> Vec<String> {
        let f = dir.join(format!("{name}.h264"));
        std::fs::write(&f, &self.got.annexb).unwrap();
        assert_decodes_cleanly(&f);
        framemd5(&f, &[])
    }

    async fn close(self) {
        self.client.teardown().await;
    }
}

impl Received {
    /// Sequence numbers run on by one, no gap and no repeat; access units are one frame
    /// apart, the first a keyframe; and `decoded` (the access units' decoded frames) is
    /// exactly `want`, the source's frames from the first one expected to the end.
    fn assert_whole_from(&self, decoded: &[String], want: &[String]) {
        for (i, w) in self.packets.windows(2).enumerate() {
            assert_eq!(
                w[1].0,
                w[0].0.wrapping_add(1),
                "packet {}: sequence {} after {}",
                i + 1,
                w[1].0,
                w[0].0
            );
        }
        assert!(self.aus[0].1, "the first access unit is not a keyframe");
        for (i, w) in self.aus.windows(2).enumerate() {
            assert_eq!(w[1].0 - w[0].0, TICKS, "access unit {}", i + 1);
        }
        assert_eq!(self.aus.len(), decoded.len());
        assert_eq!(decoded.len(), want.len());
        let first_diff = decoded.iter().zip(want).position(|(a, b)| a != b);
        assert_eq!(first_diff, None, "decoded frames differ from the source's");
    }
}

/// The (`seq`, `rtptime`) of the only `RTP-Info` entry.
fn rtp_info(reply: &PlayReply) -> (u16, u32) {
    assert_eq!(reply.rtp_info.len(), 1, "{:?}", reply.rtp_info);
    let i = &reply.rtp_info[0];
    (
        i.seq.expect("RTP-Info without seq"),
        i.rtptime.expect("RTP-Info without rtptime"),
    )
}

/// PLAY with `Range: npt=<start>-`: the frames from 5 s (frame 125, a keyframe) to the end.
async fn range_starts_at_5s(transport: SetupTransport, start: f64) {
    let source = source_frames();
    let server = GstPeer::start("gst_rtsp_server.py", [clip()]);
    let mut s = Session::open(Url::parse(server.url()).unwrap(), transport).await;
    let t0 = Instant::now();
    let reply = s.play(Range::Npt { start, end: None }).await;
    assert!(!s.read_until(|_| false).await);
    let took = t0.elapsed();
    let dir = tmpdir(&format!("rtsp-gst-range-{transport:?}"));
    let got = s.decoded(&dir, "from5");
    eprintln!(
        "{transport:?}: npt={start}- answered Range {:?}, RTP-Info {:?}, {} packets, {} frames, BYE after {took:?}",
        reply.range,
        reply.rtp_info,
        s.got.packets.len(),
        got.len()
    );
    assert_eq!(reply.range.as_deref(), Some("npt=5-10"));
    // The first packet is the one RTP-Info names: nothing from before the seek.
    assert_eq!(s.got.packets[0], rtp_info(&reply));
    s.got.assert_whole_from(&got, &source[5 * FPS..]);
    // The server paces in real time: 125 frames span 4.96 s of media.
    assert!(took >= Duration::from_millis(4900), "{took:?}");
    s.close().await;
}

/// PLAY from 6 s, read one second of frames, PAUSE half a second later, stay paused one
/// second, PLAY without Range, read to BYE.
async fn pause_then_play_resumes(transport: SetupTransport) {
    let source = source_frames();
    let server = GstPeer::start("gst_rtsp_server.py", [clip()]);
    let mut s = Session::open(Url::parse(server.url()).unwrap(), transport).await;
    let t0 = Instant::now();
    let first = s
        .play(Range::Npt {
            start: 6.0,
            end: None,
        })
        .await;
    assert!(s.read_until(|g| g.aus.len() >= FPS).await);
    let before_pause = (s.got.packets.len(), s.got.aus.len());
    // Stop reading for half a second before PAUSE, so that about 12 frames are in flight
    // when the server pauses: over TCP the client reads them while it waits for the PAUSE
    // answer and must hand them out afterwards; over UDP they wait in the sockets.
    tokio::time::sleep(Duration::from_millis(500)).await;
    s.client.pause().await.unwrap();
    let paused_at = Instant::now();
    // Paused: packets sent before the server paused may still come (over TCP they were read
    // while waiting for the PAUSE answer); nothing else may.
    let mut in_flight = Vec::new();
    let mut rtcp = 0;
    loop {
        let left = Duration::from_secs(1).saturating_sub(paused_at.elapsed());
        let Some(p) = s.next_within(left).await else {
            break;
        };
        let at = paused_at.elapsed();
        if s.take(p) {
            in_flight.push(at);
        } else {
            rtcp += 1;
        }
    }
    assert!(!s.bye, "BYE while paused");
    let resumed_at = s.got.packets.len();
    let frames_at_resume = s.got.aus.len();
    let resume = s.play(Range::None).await;
    let t1 = Instant::now();
    assert!(!s.read_until(|_| false).await);
    let (took, after_resume) = (t0.elapsed(), t1.elapsed());
    let dir = tmpdir(&format!("rtsp-gst-pause-{transport:?}"));
    let got = s.decoded(&dir, "paused");
    eprintln!(
        "{transport:?}: PLAY npt=6- RTP-Info {:?}; PAUSE after {} packets / {} frames; while \
         paused {} RTP ({} frames) at {in_flight:?} and {rtcp} RTCP; PLAY again: Range {:?}, RTP-Info \
         {:?}; {} packets / {} frames after it, BYE {after_resume:?} after it; in all {} \
         packets, {} frames, {took:?}",
        first.rtp_info,
        before_pause.0,
        before_pause.1,
        in_flight.len(),
        frames_at_resume - before_pause.1,
        resume.range,
        resume.rtp_info,
        s.got.packets.len() - resumed_at,
        s.got.aus.len() - frames_at_resume,
        s.got.packets.len(),
        got.len()
    );
    assert_eq!(s.got.packets[0], rtp_info(&first));
    // Only what was already in flight arrived while paused, right after the PAUSE answer
    // (and there was some: the server went on sending while we did not read).
    for at in &in_flight {
        assert!(
            *at < Duration::from_millis(200),
            "RTP {at:?} into the pause"
        );
    }
    let frames_in_flight = frames_at_resume - before_pause.1;
    assert!(frames_in_flight >= 5, "{frames_in_flight} frames in flight");
    // The server resumed with the very next packet (RTP-Info names it, as after a seek).
    assert_eq!(s.got.packets[resumed_at], rtp_info(&resume));
    // No packet lost or repeated across the pause, and no frame either; RTP time runs on
    // as if there had been no pause.
    s.got.assert_whole_from(&got, &source[6 * FPS..]);
    // The rest of the clip after PLAY again came in real time: not replayed from earlier.
    let rest = (CLIP_FRAMES - 6 * FPS - frames_at_resume) as u32;
    assert!(
        after_resume >= Duration::from_millis(40) * (rest - 5),
        "{after_resume:?}"
    );
    // And the pause held: 100 frames span 3.96 s of media, plus at least 1 s paused.
    assert!(took >= Duration::from_millis(4900), "{took:?}");
    s.close().await;
}

#[tokio::test]
async fn play_range_npt_5_starts_at_5s_over_tcp() {
    range_starts_at_5s(SetupTransport::Tcp, 5.0).await;
}

#[tokio::test]
async fn play_range_npt_5_starts_at_5s_over_udp() {
    range_starts_at_5s(SetupTransport::Udp, 5.0).await;
}

/// gst-rtsp-server seeks with `KEY_UNIT`: a start between keyframes starts at the keyframe
/// before it.
#[tokio::test]
async fn play_range_npt_5_5_starts_at_the_keyframe_at_5s() {
    range_starts_at_5s(SetupTransport::Tcp, 5.5).await;
}

#[tokio::test]
async fn pause_then_play_loses_and_repeats_nothing_over_tcp() {
    pause_then_play_resumes(SetupTransport::Tcp).await;
}

#[tokio::test]
async fn pause_then_play_loses_and_repeats_nothing_over_udp() {
    pause_then_play_resumes(SetupTransport::Udp).await;
}

//! The sim's optional audio track ([`SimOptions::audio`](super::SimOptions::audio)): what it
//! sends (a µ-law tone computed in code, or AAC frames from a committed fixture), how it is
//! described in the SDP, and the sender that paces it on the video's schedule.
//!
//! Both kinds are a pure function of the frame number `k` counted from the session's first
//! audio frame, so a test can recompute exactly what the sim sent: [`SimAudio::frame`] is the
//! media bytes of frame `k`, [`SimAudio::rtp_payload`] the RTP payload that carried them.
//!
//! Timing: frame `k` is due at `anchor + k * frame_duration` and was "captured" at wall-clock
//! `anchor_ntp + k * frame_duration`, with the same `(anchor, anchor_ntp)` as the session's
//! video (whose frame `n` is at `anchor + n * 40 ms`). Each stream's sender reports are stamped
//! from that one schedule, so the NTP times of audio and video line up exactly, as they do on
//! a camera whose encoders share a clock. RTP timestamps run in the audio's own clock (8 or
//! 16 kHz) from a random offset, with their own SSRC and sequence numbers.
//!
//! The AAC fixture, `core/testdata/sim_audio.aac` (ADTS, AAC-LC 16 kHz mono, 33 frames of
//! 1024 samples, looped), was made once with ffmpeg 5.1.9's native encoder:
//!
//! ```text
//! ffmpeg -f lavfi -i sine=frequency=440:sample_rate=16000:beep_factor=4 -t 2 \
//!   -c:a aac -b:a 32k -ac 1 -f adts sim_audio.aac
//! ```

use std::io;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rand::Rng as _;
use tokio::io::{AsyncWrite, AsyncWriteExt as _};
use tokio::time::Instant;

use super::hostile::{self, HostileMode};
use super::packetizer::{RTP_HEADER_LEN, rtp_header_pt};
use super::rtcp::{SenderCounts, bye, ntp_now, sender_report};
use super::server::Shared;
use super::stream::{Due, Sink, append_interleaved, duration_to_ntp};

/// The committed ADTS fixture.
static AAC_FIXTURE: &[u8] = include_bytes!("../../testdata/sim_audio.aac");

/// The audio track a sim serves besides its video (a second `m=audio` section, control
/// `trackID=1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimAudio {
    /// G.711 µ-law (static payload type 0, `PCMU/8000`), mono, 20 ms packets of 160 bytes.
    /// Sample `n` (counted from the session's first audio sample) is the G.711 µ-law code
    /// ([`linear_to_ulaw`], FFmpeg's rounding) of
    /// `round((2000 + 2000 * ((n / 8000) % 8)) * sin(2π * 441 * n / 8000))`:
    /// a 441 Hz tone (0.82 cycles past whole ones per packet, so the phase repeats only every
    /// 50 packets) whose loudness steps up every second for 8 s, so every packet of an
    /// 8 s stretch is distinct. See [`pcmu_sample`].
    Pcmu,
    /// AAC-LC 16 kHz mono per RFC 3640 (`MPEG4-GENERIC/16000/1`, payload type 97, AAC-hbr:
    /// `sizelength=13;indexlength=3;indexdeltalength=3`, `config` from the fixture's
    /// AudioSpecificConfig): one 1024-sample access unit (64 ms) per packet, the committed
    /// fixture's frames in a loop ([`aac_frames`]).
    Aac,
}

/// RTP payload type announced for AAC (dynamic; the video has 96).
const AAC_PAYLOAD_TYPE: u8 = 97;
/// Samples per PCMU packet: 20 ms at 8 kHz.
const PCMU_SAMPLES: u32 = 160;
/// Samples per AAC access unit.
const AAC_SAMPLES: u32 = 1024;

impl SimAudio {
    /// The RTP clock rate: 8000 (PCMU) or 16000 (AAC).
    pub fn clock_rate(self) -> u32 {
        match self {
            SimAudio::Pcmu => 8000,
            SimAudio::Aac => 16_000,
        }
    }

    /// Samples (RTP timestamp ticks) per packet: 160 or 1024.
    pub fn samples_per_frame(self) -> u32 {
        match self {
            SimAudio::Pcmu => PCMU_SAMPLES,
            SimAudio::Aac => AAC_SAMPLES,
        }
    }

    /// How long one packet lasts: 20 ms or 64 ms (both whole microseconds).
    pub fn frame_duration(self) -> Duration {
        Duration::from_micros(
            u64::from(self.samples_per_frame()) * 1_000_000 / u64::from(self.clock_rate()),
        )
    }

    /// The RTP payload type: 0 (PCMU, static) or 97 (AAC, dynamic).
    pub fn payload_type(self) -> u8 {
        match self {
            SimAudio::Pcmu => 0,
            SimAudio::Aac => AAC_PAYLOAD_TYPE,
        }
    }

    /// The media bytes of frame `k` (counted from the session's first audio frame): 160 µ-law
    /// codes, or AAC access unit `k mod` [`aac_frames`]`().len()` (empty should the fixture
    /// not parse, which a unit test rules out).
    pub fn frame(self, k: u64) -> Vec<u8> {
        match self {
            SimAudio::Pcmu => {
                let first = k.saturating_mul(u64::from(PCMU_SAMPLES));
                (first..first.saturating_add(u64::from(PCMU_SAMPLES)))
                    .map(pcmu_sample)
                    .collect()
            }
            SimAudio::Aac => {
                let frames = aac_frames();
                match frames.len() {
                    0 => Vec::new(),
                    n => frames[(k % n as u64) as usize].to_vec(),
                }
            }
        }
    }

    /// The RTP payload carrying frame `k`: the µ-law bytes as they are, or for AAC the RFC
    /// 3640 AU-headers-length (16 bits: 16), one AU header (13-bit size, 3-bit index 0) and
    /// the access unit.
    pub fn rtp_payload(self, k: u64) -> Vec<u8> {
        let frame = self.frame(k);
        match self {
            SimAudio::Pcmu => frame,
            SimAudio::Aac => {
                let mut out = Vec::with_capacity(4 + frame.len());
                out.extend_from_slice(&aac_au_header(frame.len()));
                out.extend_from_slice(&frame);
                out
            }
        }
    }

    /// The SDP media section (after the video's), with control `track`.
    pub(crate) fn sdp_media(self, track: &str) -> String {
        let pt = self.payload_type();
        match self {
            SimAudio::Pcmu => {
                format!(
                    "m=audio 0 RTP/AVP {pt}\r\na=rtpmap:{pt} PCMU/8000\r\na=control:{track}\r\n"
                )
            }
            SimAudio::Aac => format!(
                "m=audio 0 RTP/AVP {pt}\r\n\
                 a=rtpmap:{pt} MPEG4-GENERIC/16000/1\r\n\
                 a=fmtp:{pt} streamtype=5;profile-level-id=15;mode=AAC-hbr;sizelength=13;\
                 indexlength=3;indexdeltalength=3;config={}\r\n\
                 a=control:{track}\r\n",
                aac_config_hex()
            ),
        }
    }
}

/// The four bytes before an AAC access unit of `len` bytes: AU-headers-length 16 (bits), then
/// size (13 bits) and index 0 (3 bits). The fixture's frames are far below 8192 bytes; a
/// longer one would have its size cut to 13 bits, which the unit test rules out.
fn aac_au_header(len: usize) -> [u8; 4] {
    let size = (len & 0x1fff) as u16;
    let au = size << 3;
    [0, 16, (au >> 8) as u8, au as u8]
}

/// µ-law code of PCMU sample `n` of a session: see [`SimAudio::Pcmu`] for the formula.
pub fn pcmu_sample(n: u64) -> u8 {
    let amplitude = 2000.0 + 2000.0 * ((n / 8000) % 8) as f64;
    let phase = 2.0 * std::f64::consts::PI * 441.0 * ((n % 8000) as f64) / 8000.0;
    // |x| <= 16000, well inside i16.
    let x = (amplitude * phase.sin()).round() as i16;
    linear_to_ulaw(x)
}

/// G.711 µ-law encoding of a 16-bit linear sample, as FFmpeg's `pcm_mulaw` encoder does it
/// (so an encoder written by others can confirm the bytes): `sample >> 2` (floor) is
/// compared with the midpoints `(level(i) + level(i + 1) + 4) >> 3` of consecutive G.711
/// levels (`level` = [`ulaw_to_linear`] of code `i ^ 0xff`), and the first `i` whose
/// midpoint is above it wins; the code is `i ^ 0xff` for positive samples and `i ^ 0x7f` for
/// negative ones, 0xff for `sample >> 2 == 0`.
pub fn linear_to_ulaw(sample: i16) -> u8 {
    let t = i32::from(sample) >> 2;
    if t == 0 {
        return 0xff;
    }
    let (j, mask) = if t > 0 {
        (t, 0xff)
    } else {
        ((-t).min(8191), 0x7f)
    };
    let level = |i: u8| i32::from(ulaw_to_linear(i ^ 0xff));
    let i = (0..127u8)
        .find(|&i| j < (level(i) + level(i + 1) + 4) >> 3)
        .unwrap_or(127);
    i ^ mask
}

/// G.711 µ-law decoding (the classic table definition: bias 0x84, codes inverted).
pub fn ulaw_to_linear(code: u8) -> i16 {
    let u = !code;
    let t = ((i32::from(u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);
    // |t - 0x84| <= 32124.
    (if u & 0x80 != 0 { 0x84 - t } else { t - 0x84 }) as i16
}

/// The fixture split once: the raw access units (ADTS headers removed) and the
/// AudioSpecificConfig from the first header.
struct AacFixture {
    frames: Vec<&'static [u8]>,
    config: [u8; 2],
}

fn aac_fixture() -> &'static AacFixture {
    static PARSED: OnceLock<AacFixture> = OnceLock::new();
    PARSED.get_or_init(|| parse_adts(AAC_FIXTURE))
}

/// The AAC access units the sim loops over (the fixture's ADTS frames without headers).
pub fn aac_frames() -> &'static [&'static [u8]] {
    &aac_fixture().frames
}

/// The AudioSpecificConfig in hex, as the SDP's `config=` carries it (`1408`: AAC-LC,
/// 16 kHz, mono).
pub fn aac_config_hex() -> String {
    let c = aac_fixture().config;
    format!("{:02x}{:02x}", c[0], c[1])
}

/// Splits ADTS frames (ISO/IEC 14496-3 1.A.2). Stops at the first malformed header, so a bad
/// fixture gives fewer frames, never a panic.
fn parse_adts(mut data: &'static [u8]) -> AacFixture {
    let mut frames = Vec::new();
    let mut config = [0x14, 0x08];
    while data.len() >= 7 && data[0] == 0xff && data[1] & 0xf0 == 0xf0 {
        let protection_absent = data[1] & 1 == 1;
        let header_len = if protection_absent { 7 } else { 9 };
        let frame_len = (usize::from(data[3] & 0x03) << 11)
            | (usize::from(data[4]) << 3)
            | usize::from(data[5] >> 5);
        if frame_len <= header_len || frame_len > data.len() {
            break;
        }
        if frames.is_empty() {
            // ASC: audioObjectType (5 bits) = profile + 1, sampling index (4), channels (4).
            let object_type = (data[2] >> 6) + 1;
            let freq_index = (data[2] >> 2) & 0x0f;
            let channels = ((data[2] & 1) << 2) | (data[3] >> 6);
            config = [
                (object_type << 3) | (freq_index >> 1),
                ((freq_index & 1) << 7) | (channels << 3),
            ];
        }
        frames.push(&data[header_len..frame_len]);
        data = &data[frame_len..];
    }
    AacFixture { frames, config }
}

/// Where the audio sender is in its life (the video's `State`, for audio).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Idle,
    /// Frame `k` is due at `anchor + k * frame_duration`, captured at
    /// `anchor_ntp + k * frame_duration`.
    Playing {
        anchor: Instant,
        anchor_ntp: u64,
    },
    Ended,
}

/// One session's audio sender.
pub(crate) struct AudioStreamer {
    sink: Sink,
    shared: Arc<Shared>,
    audio: SimAudio,
    pub(crate) ssrc: u32,
    seq: u16,
    ts_base: u32,
    frames_sent: u64,
    /// Frames after which BYE goes out: the same media duration as the video's limit.
    frame_limit: Option<u64>,
    counts: SenderCounts,
    state: State,
    buf: Vec<u8>,
    paced: bool,
}

impl AudioStreamer {
    pub(crate) fn new(sink: Sink, shared: Arc<Shared>, audio: SimAudio) -> AudioStreamer {
        let mut rng = rand::thread_rng();
        let opts = &shared.opts;
        let frame_ns = audio.frame_duration().as_nanos().max(1);
        let frames_in = |d: Duration| u64::try_from(d.as_nanos().div_ceil(frame_ns)).ok();
        let by_duration = opts.max_duration.and_then(frames_in);
        let clip_len =
            u32::try_from(super::clip::parsed_of(opts.video_codec).len()).unwrap_or(u32::MAX);
        let by_clip = (!opts.loop_clip)
            .then(|| frames_in(super::stream::FRAME.saturating_mul(clip_len)))
            .flatten();
        let frame_limit = match (by_duration, by_clip) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        AudioStreamer {
            sink,
            audio,
            ssrc: rng.r#gen(),
            seq: rng.r#gen(),
            ts_base: rng.r#gen(),
            frames_sent: 0,
            frame_limit,
            counts: SenderCounts::default(),
            state: State::Idle,
            buf: Vec::with_capacity(4096),
            paced: opts.realtime,
            shared,
        }
    }

    pub(crate) fn server_ports(&self) -> Option<(u16, u16)> {
        self.sink.server_ports()
    }

    fn timestamp_of(&self, k: u64) -> u32 {
        // Only the low 32 bits matter: RTP timestamps wrap.
        self.ts_base
            .wrapping_add(k.wrapping_mul(u64::from(self.audio.samples_per_frame())) as u32)
    }

    /// The sequence number and RTP timestamp of the next packet, for `RTP-Info`.
    pub(crate) fn next_seq_and_rtptime(&self) -> (u16, u32) {
        (self.seq, self.timestamp_of(self.frames_sent))
    }

    /// Media time of the next frame since the session's start.
    pub(crate) fn media_time(&self) -> Duration {
        self.offset_of(self.frames_sent)
    }

    fn offset_of(&self, k: u64) -> Duration {
        Duration::from_nanos(
            u64::try_from(u128::from(k) * self.audio.frame_duration().as_nanos())
                .unwrap_or(u64::MAX),
        )
    }

    /// Starts (or resumes) on the video's schedule: frame `k` due at
    /// `anchor + k * frame_duration`. A no-op while playing.
    pub(crate) fn play_at(&mut self, anchor: Instant, anchor_ntp: u64) {
        if self.state == State::Idle {
            self.state = State::Playing { anchor, anchor_ntp };
        }
    }

    /// Starts (or resumes) without a video: anchored so the next frame is due now.
    pub(crate) fn play(&mut self) {
        let behind = self.media_time();
        let now = Instant::now();
        let anchor = now.checked_sub(behind).unwrap_or(now);
        let anchor_ntp = ntp_now().saturating_sub(duration_to_ntp(behind));
        self.play_at(anchor, anchor_ntp);
    }

    pub(crate) fn pause(&mut self) {
        if matches!(self.state, State::Playing { .. }) {
            self.state = State::Idle;
        }
    }

    pub(crate) fn is_playing(&self) -> bool {
        matches!(self.state, State::Playing { .. })
    }

    /// When the next frame is due, or `None` when nothing is to be sent. A
    /// [`HostileMode::Stall`] camera goes quiet after its clean start on audio too.
    pub(crate) fn next_due(&self) -> Option<Due> {
        let stalled = self.shared.opts.hostile == Some(HostileMode::Stall)
            && self.media_time() >= super::stream::FRAME.saturating_mul(clean_frames());
        match self.state {
            _ if stalled => None,
            State::Playing { anchor, .. } if self.paced => {
                Some(Due::At(anchor + self.media_time()))
            }
            State::Playing { .. } => Some(Due::Now),
            State::Idle | State::Ended => None,
        }
    }

    /// The wall-clock (NTP) time frame `k` was captured: from the schedule when paced (as the
    /// video, see `Streamer::capture_ntp`), else the send time.
    fn capture_ntp(&self, k: u64) -> u64 {
        match self.state {
            State::Playing { anchor_ntp, .. } if self.paced => {
                anchor_ntp.saturating_add(duration_to_ntp(self.offset_of(k)))
            }
            _ => ntp_now(),
        }
    }

    /// Sends the next frame (and a sender report when it starts a new second of media), or
    /// BYE when the stream is over.
    pub(crate) async fn send_next<W: AsyncWrite + Unpin>(&mut self, tcp: &mut W) -> io::Result<()> {
        if self.frame_limit.is_some_and(|l| self.frames_sent >= l) {
            return self.send_bye(tcp).await;
        }
        let k = self.frames_sent;
        let timestamp = self.timestamp_of(k);
        let payload = self.audio.rtp_payload(k);
        self.frames_sent += 1;
        if payload.is_empty() {
            return Ok(());
        }
        let rate = u64::from(self.audio.clock_rate());
        let spf = u64::from(self.audio.samples_per_frame());
        let report = self.shared.opts.rtcp_sender_reports
            && (k == 0 || (k * spf) / rate != ((k - 1) * spf) / rate);
        // One access unit per packet, so every packet ends one: marker set (RFC 3640 3.2).
        // PCMU: the marker means the first packet of a talkspurt (RFC 3551 4.1), once.
        let marker = match self.audio {
            SimAudio::Aac => true,
            SimAudio::Pcmu => k == 0,
        };
        let header = rtp_header_pt(
            self.audio.payload_type(),
            marker,
            self.seq,
            timestamp,
            self.ssrc,
        );
        self.seq = self.seq.wrapping_add(1);
        self.counts.packets = self.counts.packets.wrapping_add(1);
        self.counts.octets = self.counts.octets.wrapping_add(payload.len() as u32);
        let rtp_len = RTP_HEADER_LEN + payload.len();
        let report_ntp = self.capture_ntp(k);
        let (ssrc, counts) = (self.ssrc, self.counts);
        self.buf.clear();
        let mut rtcp_bytes = 0;
        match &self.sink {
            Sink::Interleaved { rtp, rtcp } => {
                // AUs and µ-law packets are far below 65,536 bytes.
                let len = u16::try_from(rtp_len).unwrap_or(u16::MAX);
                self.buf.extend_from_slice(&[b'$', *rtp]);
                self.buf.extend_from_slice(&len.to_be_bytes());
                self.buf.extend_from_slice(&header);
                self.buf.extend_from_slice(&payload);
                if report {
                    rtcp_bytes = append_interleaved(&mut self.buf, *rtcp, |out| {
                        sender_report(out, ssrc, report_ntp, timestamp, counts)
                    });
                }
                tcp.write_all(&self.buf).await?;
            }
            Sink::Udp {
                rtp,
                rtcp,
                dest_rtp,
                dest_rtcp,
            } => {
                self.buf.extend_from_slice(&header);
                self.buf.extend_from_slice(&payload);
                // As for video: the RTSP connection, not UDP, tells us the client is gone.
                let _ = rtp.send_to(&self.buf, *dest_rtp).await;
                if report {
                    self.buf.clear();
                    sender_report(&mut self.buf, ssrc, report_ntp, timestamp, counts);
                    rtcp_bytes = self.buf.len();
                    let _ = rtcp.send_to(&self.buf, *dest_rtcp).await;
                }
            }
        }
        let c = &self.shared.counters;
        c.add_rtp(1, rtp_len as u64);
        if report {
            c.add_rtcp(rtcp_bytes as u64);
        }
        Ok(())
    }

    /// Sends SR + BYE on the audio's RTCP channel and stops for good (clients such as
    /// ffmpeg end the input only when every stream said BYE).
    pub(crate) async fn send_bye<W: AsyncWrite + Unpin>(&mut self, tcp: &mut W) -> io::Result<()> {
        if self.state == State::Ended {
            return Ok(());
        }
        self.state = State::Ended;
        let last_ts = self.timestamp_of(self.frames_sent.saturating_sub(1));
        let ntp = ntp_now();
        let (ssrc, counts) = (self.ssrc, self.counts);
        self.buf.clear();
        let len = match &self.sink {
            Sink::Interleaved { rtcp, .. } => {
                let n = append_interleaved(&mut self.buf, *rtcp, |out| {
                    bye(out, ssrc, ntp, last_ts, counts)
                });
                tcp.write_all(&self.buf).await?;
                n
            }
            Sink::Udp {
                rtcp, dest_rtcp, ..
            } => {
                bye(&mut self.buf, ssrc, ntp, last_ts, counts);
                let _ = rtcp.send_to(&self.buf, *dest_rtcp).await;
                self.buf.len()
            }
        };
        self.shared.counters.add_rtcp(len as u64);
        Ok(())
    }
}

/// [`hostile::CLEAN_FRAMES`] as a `u32` multiplier.
fn clean_frames() -> u32 {
    u32::try_from(hostile::CLEAN_FRAMES).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_matches_g711_reference_points() {
        // G.711 table values: silence, the extremes; ffmpeg's encoder checks the rest
        // (tests/sim_av.rs).
        assert_eq!(linear_to_ulaw(0), 0xff);
        assert_eq!(linear_to_ulaw(32767), 0x80);
        assert_eq!(linear_to_ulaw(-32768), 0x00);
        assert_eq!(ulaw_to_linear(0xff), 0);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(ulaw_to_linear(0x00), -32124);
        // Encoding a level gives its code back.
        for code in 0..=255u8 {
            let back = linear_to_ulaw(ulaw_to_linear(code));
            assert_eq!(ulaw_to_linear(back), ulaw_to_linear(code), "{code:#x}");
        }
    }

    #[test]
    fn pcmu_frames_are_160_bytes_and_distinct_for_8_s() {
        let a = SimAudio::Pcmu;
        assert_eq!(a.frame_duration(), Duration::from_millis(20));
        let frames: Vec<Vec<u8>> = (0..400).map(|k| a.frame(k)).collect();
        assert!(frames.iter().all(|f| f.len() == 160));
        let distinct: std::collections::HashSet<&Vec<u8>> = frames.iter().collect();
        assert_eq!(distinct.len(), 400);
        assert_eq!(a.rtp_payload(7), a.frame(7));
    }

    #[test]
    fn aac_fixture_parses_into_33_frames_with_its_config() {
        let frames = aac_frames();
        assert_eq!(frames.len(), 33);
        assert!(frames.iter().all(|f| !f.is_empty() && f.len() < 8192));
        assert_eq!(aac_config_hex(), "1408", "AAC-LC, 16 kHz, mono");
        let a = SimAudio::Aac;
        assert_eq!(a.frame_duration(), Duration::from_millis(64));
        assert_eq!(a.frame(33), a.frame(0), "the fixture loops");
        let p = a.rtp_payload(1);
        let size = usize::from(u16::from_be_bytes([p[2], p[3]]) >> 3);
        assert_eq!(&p[..2], &[0, 16]);
        assert_eq!(size, frames[1].len());
        assert_eq!(&p[4..], frames[1]);
    }

    #[test]
    fn sdp_sections() {
        let pcmu = SimAudio::Pcmu.sdp_media("trackID=1");
        assert!(pcmu.contains("m=audio 0 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"));
        let aac = SimAudio::Aac.sdp_media("trackID=1");
        assert!(aac.contains("a=rtpmap:97 MPEG4-GENERIC/16000/1\r\n"));
        assert!(aac.contains("sizelength=13;indexlength=3;indexdeltalength=3;config=1408\r\n"));
        assert!(aac.ends_with("a=control:trackID=1\r\n"));
    }
}

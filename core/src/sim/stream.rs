//! One session's media sender: which access unit comes next, when it is due, and how its RTP
//! and RTCP packets reach the client (interleaved on the RTSP connection, or UDP).
//!
//! Timing is computed from an anchor `Instant` (`anchor + frame * 40 ms`) rather than by
//! sleeping 40 ms after each send, so pacing never accumulates drift; a sender that falls
//! behind catches up by sending late frames immediately.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng as _;
use tokio::io::{AsyncWrite, AsyncWriteExt as _};
use tokio::net::UdpSocket;
use tokio::time::Instant;

use super::clip::{FPS, TICKS_PER_FRAME, parsed_of};
use super::hostile;
use super::packetizer::{RTP_HEADER_LEN, packetize_codec, rtp_header};
use super::replay::{Cursor, EXTENSION_LEN};
use super::rtcp::{SenderCounts, bye, ntp_now, sender_report};
use super::server::Shared;
use super::transport::TransportSpec;
use crate::replay::extension::unix_nanos_to_ntp;

/// Duration of one frame at the clip's rate.
pub(crate) const FRAME: Duration = Duration::from_micros(1_000_000 / FPS as u64);

/// Where a session's packets go.
pub(crate) enum Sink {
    Interleaved {
        rtp: u8,
        rtcp: u8,
    },
    Udp {
        rtp: UdpSocket,
        rtcp: UdpSocket,
        dest_rtp: SocketAddr,
        dest_rtcp: SocketAddr,
    },
}

impl Sink {
    /// Builds the sink for an agreed transport; UDP binds a fresh even/odd port pair on
    /// `local_ip` (the address the client reached us on) and sends to `peer_ip`.
    pub(crate) fn new(spec: TransportSpec, local_ip: IpAddr, peer_ip: IpAddr) -> io::Result<Sink> {
        match spec {
            TransportSpec::Interleaved { rtp, rtcp } => Ok(Sink::Interleaved { rtp, rtcp }),
            TransportSpec::Udp {
                rtp_port,
                rtcp_port,
            } => {
                let (rtp, rtcp) = bind_pair(local_ip)?;
                Ok(Sink::Udp {
                    rtp,
                    rtcp,
                    dest_rtp: SocketAddr::new(peer_ip, rtp_port),
                    dest_rtcp: SocketAddr::new(peer_ip, rtcp_port),
                })
            }
        }
    }

    /// The local (RTP, RTCP) ports for a UDP sink.
    pub(crate) fn server_ports(&self) -> Option<(u16, u16)> {
        match self {
            Sink::Interleaved { .. } => None,
            Sink::Udp { rtp, rtcp, .. } => Some((
                rtp.local_addr().ok()?.port(),
                rtcp.local_addr().ok()?.port(),
            )),
        }
    }
}

/// Binds an RTP socket on an even port and RTCP on the next one (RFC 3550 section 11), as
/// clients that derive the RTCP port expect.
fn bind_pair(ip: IpAddr) -> io::Result<(UdpSocket, UdpSocket)> {
    let mut last_err = io::Error::new(io::ErrorKind::AddrInUse, "no free UDP port pair");
    for _ in 0..64 {
        let rtp = std::net::UdpSocket::bind(SocketAddr::new(ip, 0))?;
        let port = rtp.local_addr()?.port();
        if !port.is_multiple_of(2) || port == u16::MAX {
            continue;
        }
        match std::net::UdpSocket::bind(SocketAddr::new(ip, port + 1)) {
            Ok(rtcp) => {
                rtp.set_nonblocking(true)?;
                rtcp.set_nonblocking(true)?;
                return Ok((UdpSocket::from_std(rtp)?, UdpSocket::from_std(rtcp)?));
            }
            Err(e) => last_err = e,
        }
    }
    Err(last_err)
}

/// Where the sender is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Set up, not playing yet (or paused).
    Idle,
    /// Frame `n` is due at `anchor + n * FRAME`, and was "captured" at wall-clock
    /// `anchor_ntp + n * FRAME` (64-bit NTP).
    Playing { anchor: Instant, anchor_ntp: u64 },
    /// BYE sent; nothing more will be sent.
    Ended,
}

/// When the next access unit should go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Due {
    Now,
    At(Instant),
}

pub(crate) struct Streamer {
    sink: Sink,
    shared: Arc<Shared>,
    pub(crate) ssrc: u32,
    seq: u16,
    ts_base: u32,
    /// Access units sent so far in this session (across clip loops).
    frames_sent: u64,
    /// Frames after which BYE goes out (`max_duration` or the clip's end when not looping).
    frame_limit: Option<u64>,
    counts: SenderCounts,
    state: State,
    buf: Vec<u8>,
    /// Packet boundaries in `buf` for UDP, which sends one datagram per packet.
    bounds: Vec<std::ops::Range<usize>>,
    nals: Vec<&'static [u8]>,
    /// Send at presentation times (live: `SimOptions::realtime`; replay: `Rate-Control`).
    paced: bool,
    /// A replay session: where in the recording it is.
    replay: Option<Cursor>,
    /// Clip index of the first live frame (`live_on_recording_clock`; else 0).
    frame_offset: u64,
}

impl Streamer {
    pub(crate) fn new(sink: Sink, shared: Arc<Shared>) -> Streamer {
        let mut rng = rand::thread_rng();
        let opts = &shared.opts;
        let clip_len = parsed_of(opts.video_codec).len() as u64;
        let by_duration = opts.max_duration.map(|d| {
            let frame_us = FRAME.as_micros();
            u64::try_from(d.as_micros().div_ceil(frame_us)).unwrap_or(u64::MAX)
        });
        let by_clip = (!opts.loop_clip).then_some(clip_len);
        let frame_limit = match (by_duration, by_clip) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Streamer {
            sink,
            ssrc: rng.r#gen(),
            seq: rng.r#gen(),
            ts_base: rng.r#gen(),
            frames_sent: 0,
            frame_limit,
            counts: SenderCounts::default(),
            state: State::Idle,
            buf: Vec::with_capacity(64 * 1024),
            bounds: Vec::new(),
            nals: Vec::new(),
            paced: opts.realtime,
            replay: None,
            frame_offset: 0,
            shared,
        }
    }

    /// Makes this a replay of `cursor` (a seek when it was one already), paced in real time
    /// or not; [`Self::play`] then starts it.
    pub(crate) fn replay(&mut self, cursor: Cursor, paced: bool) {
        self.replay = Some(cursor);
        self.paced = paced;
        // A seek (or a PLAY after the end) starts over: re-anchored by `play`.
        self.state = State::Idle;
    }

    /// The replay's cursor, when this is a replay session.
    pub(crate) fn cursor(&mut self) -> Option<&mut Cursor> {
        self.replay.as_mut()
    }

    pub(crate) fn server_ports(&self) -> Option<(u16, u16)> {
        self.sink.server_ports()
    }

    /// The sequence number and RTP timestamp of the next packet, for `RTP-Info`.
    pub(crate) fn next_seq_and_rtptime(&self) -> (u16, u32) {
        let frame = self
            .replay
            .as_ref()
            .map_or(self.frames_sent, Cursor::next_number);
        (self.seq, self.timestamp_of(frame))
    }

    fn timestamp_of(&self, frame: u64) -> u32 {
        // Only the low 32 bits matter: RTP timestamps wrap.
        self.ts_base
            .wrapping_add((frame.wrapping_mul(u64::from(TICKS_PER_FRAME))) as u32)
    }

    /// Starts (or resumes) sending. Resuming re-anchors the clock so the stream continues
    /// where it paused instead of bursting the paused time.
    pub(crate) fn play(&mut self) {
        if self.state == State::Idle {
            let mut behind =
                FRAME.saturating_mul(u32::try_from(self.frames_sent).unwrap_or(u32::MAX));
            let mut anchor_ntp = None;
            if self.frames_sent == 0
                && self.replay.is_none()
                && self.shared.opts.live_on_recording_clock
                && let Some((offset, ago, captured)) = self.recording_clock()
            {
                // Start at the recording's keyframe at or before now, captured `ago`.
                self.frame_offset = offset;
                behind = ago;
                anchor_ntp = Some(unix_nanos_to_ntp(captured));
            }
            let now = Instant::now();
            let anchor = now.checked_sub(behind).unwrap_or(now);
            let anchor_ntp =
                anchor_ntp.unwrap_or_else(|| ntp_now().saturating_sub(duration_to_ntp(behind)));
            self.state = State::Playing { anchor, anchor_ntp };
        }
    }

    /// For [`SimOptions::live_on_recording_clock`](super::SimOptions::live_on_recording_clock):
    /// the clip index of the recording's keyframe at or before now, how long ago it was
    /// captured, and when (Unix nanoseconds).
    fn recording_clock(&self) -> Option<(u64, Duration, i64)> {
        let plan = self.shared.recording?;
        let now = super::recording::now_nanos();
        let n = plan.frame_at(now)?;
        let keyframe = n - n % super::recording::GOP_FRAMES;
        let captured = plan.time_of(keyframe);
        let ago = u64::try_from(now - captured).ok()?;
        Some((
            keyframe % super::recording::CLIP_FRAMES,
            Duration::from_nanos(ago),
            captured,
        ))
    }

    /// The wall-clock (NTP) time at which frame `frame` was captured, for sender reports.
    ///
    /// A real camera stamps its reports from the clock its encoder runs on, so the mapping
    /// from RTP to NTP time is steady even when a packet leaves late. A paced sim does the
    /// same from its schedule: stamping reports with the send time instead made the mapping
    /// jump by however late the sender ran on a loaded machine, which a recorder rightly
    /// follows, shifting recorded times by that much. An unpaced sim has no schedule, so its
    /// reports carry the send time.
    fn capture_ntp(&self, frame: u64) -> u64 {
        match self.state {
            State::Playing { anchor_ntp, .. } if self.paced => {
                let n = u32::try_from(frame).unwrap_or(u32::MAX);
                anchor_ntp.saturating_add(duration_to_ntp(FRAME.saturating_mul(n)))
            }
            _ => ntp_now(),
        }
    }

    /// The schedule of a playing session, `(anchor, anchor_ntp)`: frame `n` due at
    /// `anchor + n * 40 ms`, captured at `anchor_ntp + n * 40 ms`. The audio of the session
    /// plays on the same one, so both streams' sender reports agree on wall-clock time.
    pub(crate) fn schedule(&self) -> Option<(Instant, u64)> {
        match self.state {
            State::Playing { anchor, anchor_ntp } => Some((anchor, anchor_ntp)),
            State::Idle | State::Ended => None,
        }
    }

    /// Media time of the next access unit since the session's start.
    pub(crate) fn media_time(&self) -> Duration {
        FRAME.saturating_mul(u32::try_from(self.frames_sent).unwrap_or(u32::MAX))
    }

    pub(crate) fn pause(&mut self) {
        if matches!(self.state, State::Playing { .. }) {
            self.state = State::Idle;
        }
    }

    pub(crate) fn is_playing(&self) -> bool {
        matches!(self.state, State::Playing { .. })
    }

    /// When the next access unit is due, or `None` when nothing is to be sent.
    pub(crate) fn next_due(&self) -> Option<Due> {
        match self.state {
            State::Playing { anchor, .. } if self.paced => Some(Due::At(
                anchor + FRAME.saturating_mul(u32::try_from(self.frames_sent).unwrap_or(u32::MAX)),
            )),
            State::Playing { .. } => Some(Due::Now),
            State::Idle | State::Ended => None,
        }
    }

    /// Sends the next access unit (and a sender report once per second of media), or BYE when
    /// the stream is over. `tcp` is the RTSP connection, used for interleaved sinks.
    pub(crate) async fn send_next<W: AsyncWrite + Unpin>(&mut self, tcp: &mut W) -> io::Result<()> {
        let clip = parsed_of(self.shared.opts.video_codec);
        let clip_len = clip.len() as u64;
        // Replay: the cursor says which frame, with its 0xABAC extension.
        let (frame, index, extension) = match self.replay.as_mut() {
            Some(cursor) => match cursor.next_frame() {
                Some(f) if f.index < clip.len() => (f.number, f.index, Some(f.extension)),
                _ => return self.send_bye(tcp).await,
            },
            None => {
                if clip_len == 0 || self.frame_limit.is_some_and(|l| self.frames_sent >= l) {
                    return self.send_bye(tcp).await;
                }
                let frame = self.frames_sent;
                let index = (frame.wrapping_add(self.frame_offset) % clip_len) as usize;
                (frame, index, None)
            }
        };
        let timestamp = self.timestamp_of(frame);
        self.nals.clear();
        self.nals.extend(clip.nals(index));
        self.buf.clear();
        self.bounds.clear();

        let interleaved = match self.sink {
            Sink::Interleaved { rtp, .. } => Some(rtp),
            Sink::Udp { .. } => None,
        };
        let opts = &self.shared.opts;
        let (buf, bounds, seq, counts, ssrc) = (
            &mut self.buf,
            &mut self.bounds,
            &mut self.seq,
            &mut self.counts,
            self.ssrc,
        );
        let mut packets = 0u64;
        let ext_len = extension.map_or(0, |_| EXTENSION_LEN);
        packetize_codec(
            clip.codec,
            &self.nals,
            opts.packetization,
            // The extension's bytes count against the MTU too.
            opts.mtu.saturating_sub(ext_len),
            |pieces, marker| {
                let payload_len: usize = pieces.iter().map(|p| p.len()).sum();
                if let Some(channel) = interleaved {
                    // The packetizer bounds packets below 65,536 bytes.
                    let len = (RTP_HEADER_LEN + ext_len + payload_len) as u16;
                    buf.push(b'$');
                    buf.push(channel);
                    buf.extend_from_slice(&len.to_be_bytes());
                }
                let start = buf.len();
                let mut header = rtp_header(marker, *seq, timestamp, ssrc);
                if let Some(ext) = &extension {
                    // X bit: a header extension follows (on every packet of the frame).
                    header[0] |= 0x10;
                    buf.extend_from_slice(&header);
                    buf.extend_from_slice(ext);
                } else {
                    buf.extend_from_slice(&header);
                }
                for p in pieces {
                    buf.extend_from_slice(p);
                }
                bounds.push(start..buf.len());
                *seq = seq.wrapping_add(1);
                counts.packets = counts.packets.wrapping_add(1);
                counts.octets = counts.octets.wrapping_add(payload_len as u32);
                packets += 1;
            },
        );
        let rtp_bytes: usize = self.bounds.iter().map(|r| r.len()).sum();
        self.frames_sent += 1;
        if let Some(mode) = opts.hostile.filter(|_| self.replay.is_none()) {
            let frozen_timestamp = self.timestamp_of(hostile::CLEAN_FRAMES);
            let packets = hostile::FramePackets {
                buf: &mut self.buf,
                bounds: &self.bounds,
                interleaved: interleaved.is_some(),
                frame,
                frozen_timestamp,
            };
            match hostile::mangle_frame(mode, packets) {
                hostile::FrameAction::Send => {}
                hostile::FrameAction::Skip => return Ok(()),
                hostile::FrameAction::SendPrefixThenReset(cut) => {
                    let prefix = self.buf.get(..cut).unwrap_or_default();
                    return Err(hostile::send_prefix_then_reset(tcp, prefix).await);
                }
            }
        }

        // No sender reports while replaying (the spec lets a server send none).
        let report = opts.rtcp_sender_reports
            && self.replay.is_none()
            && frame.is_multiple_of(u64::from(FPS));
        let report_ntp = self.capture_ntp(frame);
        let mut rtcp_bytes = 0;
        match &self.sink {
            Sink::Interleaved { rtcp, .. } => {
                if report {
                    rtcp_bytes = append_interleaved(&mut self.buf, *rtcp, |out| {
                        sender_report(out, ssrc, report_ntp, timestamp, self.counts)
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
                for r in &self.bounds {
                    // Datagrams to a port nobody listens on fail with ICMP errors; the RTSP
                    // connection, not UDP, tells us when the client is gone.
                    let _ = rtp.send_to(&self.buf[r.clone()], *dest_rtp).await;
                }
                if report {
                    self.buf.clear();
                    sender_report(&mut self.buf, ssrc, report_ntp, timestamp, self.counts);
                    rtcp_bytes = self.buf.len();
                    let _ = rtcp.send_to(&self.buf, *dest_rtcp).await;
                }
            }
        }
        let c = &self.shared.counters;
        c.add_rtp(packets, rtp_bytes as u64);
        if report {
            c.add_rtcp(rtcp_bytes as u64);
        }
        Ok(())
    }

    /// Sends SR + BYE on the RTCP channel and stops sending for good.
    pub(crate) async fn send_bye<W: AsyncWrite + Unpin>(&mut self, tcp: &mut W) -> io::Result<()> {
        if self.state == State::Ended {
            return Ok(());
        }
        self.state = State::Ended;
        let mut last_ts = self.timestamp_of(self.frames_sent.saturating_sub(1));
        let mut ntp = ntp_now();
        if self.replay.is_some() && !self.paced {
            // Rate-Control: no: NTP and RTP time of sender reports are 0 (Streaming spec).
            (last_ts, ntp) = (0, 0);
        }
        self.buf.clear();
        let (ssrc, counts) = (self.ssrc, self.counts);
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
        log::debug!("sim: session ssrc {ssrc:08x} sent BYE");
        Ok(())
    }
}

/// A duration in 64-bit NTP units (2^32 per second).
pub(crate) fn duration_to_ntp(d: Duration) -> u64 {
    let units = (d.as_nanos() << 32) / 1_000_000_000;
    u64::try_from(units).unwrap_or(u64::MAX)
}

/// Appends `$ channel len` and the RTCP packet `fill` writes; returns the RTCP length.
pub(crate) fn append_interleaved(
    buf: &mut Vec<u8>,
    channel: u8,
    fill: impl FnOnce(&mut Vec<u8>),
) -> usize {
    let at = buf.len();
    buf.extend_from_slice(&[b'$', channel, 0, 0]);
    fill(buf);
    let len = buf.len() - at - 4;
    let len16 = u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes();
    buf[at + 2..at + 4].copy_from_slice(&len16);
    len
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::SimOptions;

    /// (NTP, RTP timestamp) of every sender report in an interleaved byte stream.
    fn sender_reports(mut bytes: &[u8], rtcp_channel: u8) -> Vec<(u64, u32)> {
        let mut out = Vec::new();
        while let [b'$', channel, hi, lo, rest @ ..] = bytes {
            let len = usize::from(u16::from_be_bytes([*hi, *lo]));
            let (packet, tail) = rest.split_at(len);
            if *channel == rtcp_channel && packet.get(1) == Some(&200) {
                let ntp = u64::from_be_bytes(packet[8..16].try_into().unwrap());
                let ts = u32::from_be_bytes(packet[16..20].try_into().unwrap());
                out.push((ntp, ts));
            }
            bytes = tail;
        }
        out
    }

    /// A paced sender that runs late (a loaded machine) still reports the RTP-to-NTP mapping
    /// of its schedule, as a camera's encoder clock does: one second of media is one second
    /// of NTP time apart, however the frames left.
    #[tokio::test]
    async fn sender_reports_follow_the_schedule_not_the_send_time() {
        let shared = Arc::new(Shared::new(SimOptions::default()));
        assert!(shared.opts.realtime);
        let sink = Sink::Interleaved { rtp: 0, rtcp: 1 };
        let mut streamer = Streamer::new(sink, shared);
        let played_at = ntp_now();
        streamer.play();
        // 150 ms late for frame 0, then frames 1..=25 all at once.
        tokio::time::sleep(Duration::from_millis(150)).await;
        let mut wire: Vec<u8> = Vec::new();
        for _ in 0..=FPS {
            streamer.send_next(&mut wire).await.unwrap();
        }
        let reports = sender_reports(&wire, 1);
        assert_eq!(reports.len(), 2, "one report per second of media");
        let (ntp0, ts0) = reports[0];
        let (ntp1, ts1) = reports[1];
        assert_eq!(ts1.wrapping_sub(ts0), FPS * TICKS_PER_FRAME);
        let one_second = ntp1 - ntp0;
        assert!(
            one_second.abs_diff(1 << 32) < (1 << 32) / 1000,
            "{one_second:#x}"
        );
        // Frame 0 was due when PLAY came, not when it left 150 ms later.
        let late_ms = (ntp0.abs_diff(played_at) * 1000) >> 32;
        assert!(late_ms < 50, "frame 0 stamped {late_ms} ms after PLAY");
    }
}

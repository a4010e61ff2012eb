//! Hostile camera behaviour: the sim turned into the broken or malicious camera a VMS meets on
//! an untrusted network, so the recorder's limits and error paths can be tested end to end.
//!
//! Media modes stream [`CLEAN_FRAMES`] normal access units first (so a recording has written
//! something intact before the trouble starts), then misbehave for the rest of the session.
//! They rewrite the packets the normal packetizer produced in place (same count, same
//! lengths), so sequence numbers, pacing and RTCP stay as they were and only the one broken
//! property differs. RTSP-level modes ([`HostileMode::HugeSdp`], [`HostileMode::Slowloris`])
//! act on the answers instead.

use std::io;
use std::ops::Range;
use std::time::Duration;

use rand::RngCore as _;
use tokio::io::{AsyncWrite, AsyncWriteExt as _};

/// Normal access units sent before a media mode turns hostile: 2 s at 25 fps.
pub const CLEAN_FRAMES: u64 = 50;

/// Size of the SDP [`HostileMode::HugeSdp`] sends: over the 64 KiB limit of
/// `camwire::rtsp::sdp::MAX_SDP_BYTES`.
pub const HUGE_SDP_BYTES: usize = 96 * 1024;

/// How the RTSP headers of [`HostileMode::Slowloris`] answers trickle out.
pub const SLOWLORIS_BYTE_INTERVAL: Duration = Duration::from_secs(1);

/// Timestamp step of [`HostileMode::TimestampJumps`]: one hour at 90 kHz.
const JUMP_TICKS: u32 = 3600 * 90_000;

/// One way a camera can be hostile. See the module docs for when media modes start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostileMode {
    /// Valid RTP headers around random payload bytes (random NAL types, STAP-A sizes, FU-A
    /// headers): the depacketizer must count errors, never hold on to garbage.
    GarbageRtp,
    /// The interleaved `$` length field of one packet per frame claims 40,000 bytes more
    /// than the packet has: the client reads into the next packets and loses framing.
    LyingLengths,
    /// Every packet is an FU-A start fragment (S=1, E=0) of a new IDR slice; no fragment ever
    /// ends and the marker bit is never set, while timestamps keep advancing.
    FuAStorm,
    /// One FU-A NAL unit that never ends: a start fragment, then middle fragments forever,
    /// all with the same timestamp and no marker bit.
    EndlessNal,
    /// A DESCRIBE answer of [`HUGE_SDP_BYTES`] (attribute lines padding the real SDP).
    HugeSdp,
    /// Every RTSP answer is written one byte per [`SLOWLORIS_BYTE_INTERVAL`].
    Slowloris,
    /// Half of an access unit's packets, cut in the middle of an interleaved packet, then the
    /// connection is closed abruptly (SO_LINGER 0: a reset follows the FIN).
    ResetMidFrame,
    /// Nothing at all after the clean start (no RTP, no RTCP), the connection left open: a
    /// camera whose encoder hung. Only the client's read timeout ends this.
    Stall,
    /// RTP timestamps jump an hour forward, then back again, once per second of media.
    TimestampJumps,
    /// A new SSRC once per second of media (a camera rebooting its encoder mid-session).
    SsrcChanges,
}

impl HostileMode {
    /// Every mode, for tests that loop over them.
    pub const ALL: [HostileMode; 10] = [
        HostileMode::GarbageRtp,
        HostileMode::LyingLengths,
        HostileMode::FuAStorm,
        HostileMode::EndlessNal,
        HostileMode::HugeSdp,
        HostileMode::Slowloris,
        HostileMode::ResetMidFrame,
        HostileMode::Stall,
        HostileMode::TimestampJumps,
        HostileMode::SsrcChanges,
    ];
}

/// What the sender does with a frame's bytes after [`mangle_frame`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FrameAction {
    /// Send the buffer as usual.
    Send,
    /// Send nothing for this frame.
    Skip,
    /// Send this many bytes of it, then reset the connection.
    SendPrefixThenReset(usize),
}

/// One frame's RTP packets as the sender holds them: `buf` with each packet at `bounds[i]`
/// (12-byte header first), each preceded by its 4-byte `$` frame when `interleaved`.
pub(crate) struct FramePackets<'a> {
    pub buf: &'a mut [u8],
    pub bounds: &'a [Range<usize>],
    pub interleaved: bool,
    /// The access unit's index in the session.
    pub frame: u64,
    /// The RTP timestamp the first hostile frame had (the one [`HostileMode::EndlessNal`]
    /// keeps using).
    pub frozen_timestamp: u32,
}

/// Rewrites one frame's packets for `mode`. Frames before [`CLEAN_FRAMES`] and RTSP-level
/// modes are left alone.
pub(crate) fn mangle_frame(mode: HostileMode, p: FramePackets<'_>) -> FrameAction {
    if p.frame < CLEAN_FRAMES {
        return FrameAction::Send;
    }
    let hostile_frame = p.frame - CLEAN_FRAMES;
    match mode {
        HostileMode::LyingLengths => {
            if let Some(r) = p.bounds.first().filter(|_| p.interleaved) {
                let claimed = u16::try_from(r.len() + 40_000).unwrap_or(u16::MAX);
                if let Some(len) = r
                    .start
                    .checked_sub(2)
                    .and_then(|at| p.buf.get_mut(at..r.start))
                {
                    len.copy_from_slice(&claimed.to_be_bytes());
                }
            }
            return FrameAction::Send;
        }
        HostileMode::Stall => return FrameAction::Skip,
        HostileMode::ResetMidFrame => {
            // Cut inside the middle packet's payload: the client holds a partial packet and a
            // partial access unit when the connection dies.
            return match p.bounds.get(p.bounds.len() / 2) {
                Some(mid) => FrameAction::SendPrefixThenReset(mid.start + mid.len() / 2),
                None => FrameAction::Send,
            };
        }
        _ => {}
    }
    let mut rng = rand::thread_rng();
    for (i, r) in p.bounds.iter().enumerate() {
        let Some(pkt) = p.buf.get_mut(r.clone()) else {
            continue;
        };
        let (header, payload) = pkt.split_at_mut(pkt.len().min(12));
        match mode {
            HostileMode::GarbageRtp => rng.fill_bytes(payload),
            HostileMode::FuAStorm | HostileMode::EndlessNal => {
                let start = mode == HostileMode::FuAStorm || (hostile_frame == 0 && i == 0);
                fu_a_fragment(payload, start, &mut rng);
                clear_marker(header);
                if mode == HostileMode::EndlessNal {
                    set_u32(header, 4, p.frozen_timestamp);
                }
            }
            HostileMode::TimestampJumps => {
                // The first hostile second an hour ahead, the next back where it belongs, and so on.
                if (hostile_frame / 25).is_multiple_of(2) {
                    let ts = get_u32(header, 4).wrapping_add(JUMP_TICKS);
                    set_u32(header, 4, ts);
                }
            }
            HostileMode::SsrcChanges => {
                let epoch = u32::try_from(hostile_frame / 25 + 1).unwrap_or(u32::MAX);
                let ssrc = get_u32(header, 8) ^ epoch.wrapping_mul(0x9e37_79b9);
                set_u32(header, 8, ssrc);
            }
            _ => break,
        }
    }
    FrameAction::Send
}

/// Writes an FU-A indicator and header over the first two payload bytes (IDR type, so a
/// receiver waiting for a keyframe is tempted), random data after them.
fn fu_a_fragment(payload: &mut [u8], start: bool, rng: &mut impl rand::RngCore) {
    rng.fill_bytes(payload);
    if let [indicator, fu_header, ..] = payload {
        *indicator = 0x60 | 28;
        *fu_header = if start { 0x80 | 5 } else { 5 };
    }
}

fn clear_marker(header: &mut [u8]) {
    if let Some(b) = header.get_mut(1) {
        *b &= 0x7f;
    }
}

fn get_u32(header: &[u8], at: usize) -> u32 {
    header
        .get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u32::from_be_bytes)
}

fn set_u32(header: &mut [u8], at: usize, v: u32) {
    if let Some(b) = header.get_mut(at..at + 4) {
        b.copy_from_slice(&v.to_be_bytes());
    }
}

/// The SDP to send: `sdp` itself, or for [`HostileMode::HugeSdp`] `sdp` padded with attribute
/// lines to [`HUGE_SDP_BYTES`].
pub(crate) fn sdp(mode: Option<HostileMode>, mut sdp: String) -> String {
    if mode == Some(HostileMode::HugeSdp) {
        let mut n = 0u32;
        while sdp.len() < HUGE_SDP_BYTES {
            sdp.push_str(&format!("a=x-padding-{n}:{}\r\n", "x".repeat(100)));
            n += 1;
        }
    }
    sdp
}

/// Writes an RTSP answer: at once, or for [`HostileMode::Slowloris`] one byte per
/// [`SLOWLORIS_BYTE_INTERVAL`] (the client's timeout must fire long before it completes).
pub(crate) async fn write_response<W: AsyncWrite + Unpin>(
    mode: Option<HostileMode>,
    w: &mut W,
    bytes: &[u8],
) -> io::Result<()> {
    if mode != Some(HostileMode::Slowloris) {
        return w.write_all(bytes).await;
    }
    for b in bytes {
        w.write_all(std::slice::from_ref(b)).await?;
        w.flush().await?;
        tokio::time::sleep(SLOWLORIS_BYTE_INTERVAL).await;
    }
    Ok(())
}

/// Sends the first part of a frame, gives the client time to read everything sent so far
/// (a reset makes the peer's kernel drop data not yet read, and the test wants the client to
/// hold exactly a partial frame), then returns the error that ends the connection; with the
/// socket prepared by [`prepare_socket`] the close is a TCP reset.
pub(crate) async fn send_prefix_then_reset<W: AsyncWrite + Unpin>(
    w: &mut W,
    prefix: &[u8],
) -> io::Error {
    if let Err(e) = w.write_all(prefix).await {
        return e;
    }
    let _ = w.flush().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    io::Error::new(
        io::ErrorKind::ConnectionReset,
        "hostile sim: reset mid-frame",
    )
}

/// Makes closing `stream` send a TCP reset instead of a FIN, for
/// [`HostileMode::ResetMidFrame`].
pub(crate) fn prepare_socket(mode: Option<HostileMode>, stream: &tokio::net::TcpStream) {
    if mode == Some(HostileMode::ResetMidFrame) {
        let _ = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(interleaved: bool, sizes: &[usize]) -> (Vec<u8>, Vec<Range<usize>>) {
        let mut buf = Vec::new();
        let mut bounds = Vec::new();
        for &n in sizes {
            if interleaved {
                buf.extend_from_slice(&[b'$', 0]);
                buf.extend_from_slice(&(n as u16).to_be_bytes());
            }
            let start = buf.len();
            let mut header = vec![0x80, 0x80 | 96, 0, 1];
            header.extend_from_slice(&1000u32.to_be_bytes());
            header.extend_from_slice(&0x1234_5678u32.to_be_bytes());
            buf.extend_from_slice(&header);
            buf.resize(start + n, 0x41);
            bounds.push(start..buf.len());
        }
        (buf, bounds)
    }

    fn run(
        mode: HostileMode,
        frame_no: u64,
        buf: &mut [u8],
        bounds: &[Range<usize>],
    ) -> FrameAction {
        mangle_frame(
            mode,
            FramePackets {
                buf,
                bounds,
                interleaved: true,
                frame: frame_no,
                frozen_timestamp: 7,
            },
        )
    }

    #[test]
    fn clean_frames_are_untouched() {
        let (mut buf, bounds) = frame(true, &[100, 50]);
        let before = buf.clone();
        for mode in HostileMode::ALL {
            assert_eq!(
                run(mode, CLEAN_FRAMES - 1, &mut buf, &bounds),
                FrameAction::Send
            );
            assert_eq!(buf, before, "{mode:?}");
        }
    }

    #[test]
    fn endless_nal_freezes_the_timestamp_and_never_ends() {
        let (mut buf, bounds) = frame(true, &[100, 50]);
        run(HostileMode::EndlessNal, CLEAN_FRAMES, &mut buf, &bounds);
        let first = &buf[bounds[0].clone()];
        assert_eq!(first[1] & 0x80, 0, "marker cleared");
        assert_eq!(get_u32(first, 4), 7);
        assert_eq!((first[12] & 0x1f, first[13]), (28, 0x85), "FU-A start");
        assert_eq!(buf[bounds[1].start + 13], 5, "middle fragment");
        run(HostileMode::EndlessNal, CLEAN_FRAMES + 1, &mut buf, &bounds);
        assert_eq!(buf[bounds[0].start + 13], 5, "no new start later");
    }

    #[test]
    fn lying_length_and_reset_cut() {
        let (mut buf, bounds) = frame(true, &[100, 50, 30]);
        run(HostileMode::LyingLengths, CLEAN_FRAMES, &mut buf, &bounds);
        assert_eq!(u16::from_be_bytes([buf[2], buf[3]]), 40_100);
        let (mut buf, bounds) = frame(true, &[100, 50, 30]);
        let cut = run(HostileMode::ResetMidFrame, CLEAN_FRAMES, &mut buf, &bounds);
        assert_eq!(cut, FrameAction::SendPrefixThenReset(bounds[1].start + 25));
    }

    #[test]
    fn huge_sdp_is_over_the_client_limit() {
        let s = sdp(Some(HostileMode::HugeSdp), "v=0\r\n".into());
        assert!(s.len() >= HUGE_SDP_BYTES);
        assert_eq!(sdp(None, "v=0\r\n".into()), "v=0\r\n");
    }
}

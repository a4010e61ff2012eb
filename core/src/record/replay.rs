//! `camwire replay`: a capture (`.sdp` + interleaved `.rtp`) back into MP4, offline.
//!
//! The video track is the first H.264 or H.265 section; every audio section camwire can
//! record (AAC, G.711) rides along as tracks 1, 2, ... in SDP order (a capture holds the
//! audio its session set up: `capture --audio all` keeps them all). A capture keeps no arrival
//! times: the tracks line up by their sender reports when the capture has them, else by
//! their first packets.

use super::clock::system_time_to_ntp;
use super::ingest::Ingest;
use super::segment::{Naming, SegmentOptions, SegmentStats};
use crate::capture::{CaptureError, Reader};
use crate::rtp::{DepacketizerOptions, DepacketizerStats, RtpPacket};
use crate::rtsp::SourceEvent;
use crate::rtsp::rtcp_event;
use crate::rtsp::sdp::{self, SdpError};
use bytes::Bytes;
use std::path::Path;
use std::time::SystemTime;

/// Why a replay failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The SDP has no H.264 track.
    #[error("SDP: {0}")]
    Sdp(#[from] SdpError),
    /// Reading inputs or writing the output.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// What a replay did.
#[derive(Debug, Clone)]
pub struct ReplayReport {
    /// Interleaved frames read.
    pub frames_read: u64,
    /// RTP packets of the video track.
    pub video_packets: u64,
    /// RTP packets of the recorded audio tracks.
    pub audio_packets: u64,
    /// RTP packets that failed to parse.
    pub bad_packets: u64,
    /// Packets the depacketizer refused.
    pub rtp_errors: u64,
    /// A framing error that ended the read early (a torn capture), if any.
    pub capture_error: Option<CaptureError>,
    /// Writer counters.
    pub segments: SegmentStats,
    /// Depacketizer counters (lost, reordered, duplicated packets; damaged pictures kept).
    pub depacketizer: DepacketizerStats,
    /// Files written.
    pub files: Vec<std::path::PathBuf>,
}

/// Replays `interleaved` (with its `sdp`) into `out` (a second file `out-2.mp4` if the
/// parameter sets change). The video track is the first H.264 or H.265 section, with every
/// audio section camwire records; other tracks are skipped. Wall-clock times come
/// from the capture's sender reports when present, else from now.
pub fn replay(
    sdp_body: &[u8],
    interleaved: Bytes,
    out: &Path,
) -> Result<ReplayReport, ReplayError> {
    replay_with(sdp_body, interleaved, out, DepacketizerOptions::default())
}

/// [`replay`] with explicit depacketizer options (loss policy, reorder window, limits).
pub fn replay_with(
    sdp_body: &[u8],
    interleaved: Bytes,
    out: &Path,
    depacketizer: DepacketizerOptions,
) -> Result<ReplayReport, ReplayError> {
    let video = crate::rtsp::video_section(sdp_body)?;
    let rtp_channel = u8::try_from(video.index * 2).unwrap_or(u8::MAX);
    let mut ingest = Ingest::new(
        &video,
        Naming::Fixed(out.to_path_buf()),
        SegmentOptions {
            segment_secs: u32::MAX,
            fsync: super::segment::FsyncPolicy::Never,
            ..Default::default()
        },
        depacketizer,
    );
    // Recordable audio sections are tracks 1, 2, ... in SDP order, as a live session numbers
    // them; each owns the capture channels 2i (RTP) and 2i + 1 (RTCP) of its section i.
    let mut audio_channels: Vec<(u8, usize)> = Vec::new();
    for s in sdp::media_sections(sdp_body)?
        .iter()
        .filter(|s| s.media.eq_ignore_ascii_case("audio"))
    {
        let track = audio_channels.len() + 1;
        if ingest.add_audio(track, s, None).is_ok() {
            audio_channels.push((u8::try_from(s.index * 2).unwrap_or(u8::MAX), track));
        }
    }
    let audio_of = |channel: u8| {
        audio_channels
            .iter()
            .find(|(c, _)| *c == channel & !1)
            .map(|&(_, t)| t)
    };
    let now = system_time_to_ntp(SystemTime::now());
    let mut report = ReplayReport {
        frames_read: 0,
        video_packets: 0,
        audio_packets: 0,
        bad_packets: 0,
        rtp_errors: 0,
        capture_error: None,
        segments: SegmentStats::default(),
        depacketizer: DepacketizerStats::default(),
        files: Vec::new(),
    };
    for frame in Reader::new(interleaved) {
        let frame = match frame {
            Ok(f) => f,
            Err(e) => {
                log::warn!("capture: {e}; replaying what came before it");
                report.capture_error = Some(e);
                break;
            }
        };
        report.frames_read += 1;
        if frame.channel == rtp_channel {
            report.video_packets += 1;
            match RtpPacket::parse(frame.data) {
                Ok(p) => ingest.on_rtp(p, now)?,
                Err(e) => {
                    report.bad_packets += 1;
                    log::debug!("bad RTP packet: {e}");
                }
            }
        } else if frame.channel == rtp_channel.wrapping_add(1) {
            match rtcp_event(&frame.data) {
                Some(SourceEvent::SenderReport { ntp, rtp_timestamp }) => {
                    // The capture has no arrival times: trust its reports as arrival too.
                    ingest.on_sender_report(ntp, rtp_timestamp, ntp)
                }
                Some(SourceEvent::Bye) => break,
                _ => {}
            }
        } else if let Some(track) = audio_of(frame.channel) {
            if frame.channel & 1 == 0 {
                report.audio_packets += 1;
                match RtpPacket::parse(frame.data) {
                    Ok(p) => ingest.on_audio(track, p, now),
                    Err(e) => {
                        report.bad_packets += 1;
                        log::debug!("bad RTP packet: {e}");
                    }
                }
            } else if let Some(SourceEvent::SenderReport { ntp, rtp_timestamp }) =
                rtcp_event(&frame.data)
            {
                ingest.on_audio_sender_report(track, ntp, rtp_timestamp, ntp);
            }
        }
    }
    ingest.finish(now)?;
    report.rtp_errors = ingest.rtp_errors();
    report.segments = ingest.segment_stats().clone();
    report.depacketizer = ingest.depacketizer_stats().clone();
    report.files = ingest.take_closed().into_iter().map(|c| c.path).collect();
    Ok(report)
}

//! RTP in, MP4 files out: the pipeline shared by live recording and offline replay.
//!
//! One video track and any number of audio tracks ([`Ingest::add_audio`]), each with its own
//! depacketizer and RTP-to-wall-clock mapping, into one [`SegmentWriter`].
//!
//! Audio is placed on the video's RTP clock (what the writer's file timeline is made of), by
//! the first of these that is known for the frame (issue 12; research note h265_audio §3.6):
//! 1. `RTP-Info` of the PLAY answer, when it gave `rtptime` for the video and the audio
//!    track: both name the RTP time of the same instant, which is exact and needs no clock;
//! 2. the wall clock: the audio track's own sender reports (else its first packet's
//!    arrival) give the frame's wall time, and the video's clock gives the video RTP time of
//!    that wall time. With sender reports on both tracks this is the camera's own lip sync;
//!    by arrival it is as good as the network's jitter.
//!
//! A frame waits (bounded) until it can be placed: before the first video frame, and while
//! the video is timed by sender reports but the audio track has not had its own yet (mixing
//! the camera's clock with our arrival clock would misplace the audio by the camera's
//! latency, or by anything at all in an offline replay). A track whose report does not come
//! within `MAX_WAITING_AUDIO` frames or `MAX_AUDIO_SR_WAIT` is placed by arrival from
//! then on.

use super::clock::{ClockSource, WallClock};
use super::segment::{ClosedSegment, Naming, SegmentOptions, SegmentStats, SegmentWriter};
use crate::fmp4::VideoCodec;
use crate::rtp::audio::{AudioDepacketizer, AudioSkip};
use crate::rtp::h265::{
    H265DepacketizeError, H265Depacketizer, H265DepacketizerOptions, H265DepacketizerStats,
    H265Fmtp,
};
use crate::rtp::{DepacketizerOptions, DepacketizerStats, H264Depacketizer, RtpPacket};
use crate::rtsp::sdp::MediaSection;
use std::io;

/// The video depacketizer of a session, by the SDP's encoding name.
// Held once per session and never moved on the hot path: the size difference costs
// nothing, and boxing the H.264 depacketizer would add an indirection per packet.
#[allow(clippy::large_enum_variant)]
enum Video {
    H264(H264Depacketizer),
    /// The H.265 depacketizer, with its counters mirrored into the H.264 shape that
    /// [`Ingest::depacketizer_stats`] hands out.
    H265(H265Depacketizer, DepacketizerStats),
}

/// The video codec an SDP media section announces (`a=rtpmap` encoding name): `H265` (or
/// `HEVC`) is H.265, anything else is taken as H.264.
pub fn section_codec(video: &MediaSection) -> VideoCodec {
    if video.encoding.eq_ignore_ascii_case("H265") || video.encoding.eq_ignore_ascii_case("HEVC") {
        VideoCodec::H265
    } else {
        VideoCodec::H264
    }
}

/// The section's fmtp parameters as one `a=fmtp` value (`k=v;k=v`).
pub(crate) fn fmtp_line(video: &MediaSection) -> String {
    let mut s = String::new();
    for (k, v) in &video.fmtp {
        if !s.is_empty() {
            s.push(';');
        }
        s.push_str(k);
        s.push('=');
        s.push_str(v);
    }
    s
}

/// H.265 limits from the (H.264-shaped) depacketizer options the recorder is configured with.
pub(crate) fn h265_options(o: &DepacketizerOptions) -> H265DepacketizerOptions {
    H265DepacketizerOptions {
        max_nal_bytes: o.max_nal_bytes,
        max_access_unit_bytes: o.max_access_unit_bytes,
        max_nals_per_access_unit: o.max_nals_per_access_unit,
        max_pieces_per_access_unit: o.max_pieces_per_access_unit,
        max_timestamp_jump: o.max_timestamp_jump,
        loss_policy: o.loss_policy,
    }
}

/// The H.265 counters in the shape the recorder status and reports use.
pub(crate) fn mirror_h265_stats(h: &H265DepacketizerStats, out: &mut DepacketizerStats) {
    out.packets = h.packets;
    out.lost_packets = h.lost_packets;
    out.late_packets = h.late_packets;
    out.access_units = h.access_units;
    out.dropped_access_units = h.dropped_access_units;
    out.damaged_access_units = h.damaged_access_units;
    out.sprop_rejected = h.sprop_rejected_entries > 0;
}

/// Audio frames kept until they can be placed (see the module docs): a few seconds of any
/// codec.
const MAX_WAITING_AUDIO: usize = 256;
/// Longest an audio track waits for its first sender report once the video has its own.
const MAX_AUDIO_SR_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// One audio track of an [`Ingest`].
struct AudioTrack {
    /// The session's track number (1..).
    track: usize,
    dep: AudioDepacketizer,
    clock: WallClock,
    /// `RTP-Info` rtptime of this track, when the PLAY answer gave it.
    rtptime: Option<u32>,
    /// The track's sender report did not come in time: placed by arrival from now on.
    no_sender_report: bool,
}

/// Depacketizers, wall clocks and the segment writer for one video track (H.264 or H.265)
/// and its audio tracks.
pub struct Ingest {
    video: Video,
    clock: WallClock,
    /// `RTP-Info` rtptime of the video track, when the PLAY answer gave it.
    video_rtptime: Option<u32>,
    audio: Vec<AudioTrack>,
    /// Audio frames that came before the first video frame (no video clock to place them
    /// by yet), with their arrival: placed once the video starts. At most
    /// `MAX_WAITING_AUDIO`.
    audio_waiting: std::collections::VecDeque<(usize, crate::rtp::audio::AudioFrame, u64)>,
    audio_errors: u64,
    writer: SegmentWriter,
    rtp_errors: u64,
    codec_error: Option<H265DepacketizeError>,
    closed: Vec<ClosedSegment>,
}

impl Ingest {
    /// A pipeline for the given SDP video section: H.264 or H.265 by its encoding name
    /// ([`section_codec`]). Its sprop parameter sets (`sprop-parameter-sets`, or
    /// `sprop-vps/sps/pps`) seed the decoder configuration; garbage there is tolerated,
    /// in-band parameter sets then rule.
    pub fn new(
        video: &MediaSection,
        naming: Naming,
        segment: SegmentOptions,
        depacketizer: DepacketizerOptions,
    ) -> Self {
        let clock_rate = if video.clock_rate == 0 {
            90_000
        } else {
            video.clock_rate
        };
        let video = match section_codec(video) {
            VideoCodec::H264 => Video::H264(H264Depacketizer::new(
                depacketizer,
                video.fmtp_param("sprop-parameter-sets"),
            )),
            VideoCodec::H265 => Video::H265(
                H265Depacketizer::new(
                    h265_options(&depacketizer),
                    &H265Fmtp::parse(&fmtp_line(video)),
                ),
                DepacketizerStats::default(),
            ),
        };
        Self {
            video,
            clock: WallClock::new(clock_rate),
            video_rtptime: None,
            audio: Vec::new(),
            audio_waiting: std::collections::VecDeque::new(),
            audio_errors: 0,
            writer: SegmentWriter::new(naming, segment, clock_rate),
            rtp_errors: 0,
            codec_error: None,
            closed: Vec::new(),
        }
    }

    /// The pipeline for a playing session: its video track and every audio track it set up
    /// (with their `RTP-Info` times).
    pub fn for_source(
        source: &crate::rtsp::Source,
        naming: Naming,
        segment: SegmentOptions,
        depacketizer: DepacketizerOptions,
    ) -> Self {
        let mut ingest = Ingest::new(source.video(), naming, segment, depacketizer);
        let video_rtptime = source
            .tracks()
            .iter()
            .find(|t| t.track == Some(0))
            .and_then(|t| t.rtptime);
        ingest.set_video_rtptime(video_rtptime);
        for t in source.audio_tracks() {
            let Some(n) = t.track else { continue };
            if let Err(e) = ingest.add_audio(n, &t.section, t.rtptime) {
                log::warn!("{}: audio track {n} not recorded: {e}", source.url());
            }
        }
        ingest
    }

    /// Records audio track `track` (the session's number, 1..; see
    /// [`crate::rtsp::Source::tracks`]) described by `section`, beside the video, with the
    /// `RTP-Info` rtptime of the PLAY answer for it (if any). Call before the first packet;
    /// a stream camwire cannot record is refused with the reason, and nothing else changes.
    pub fn add_audio(
        &mut self,
        track: usize,
        section: &MediaSection,
        rtptime: Option<u32>,
    ) -> Result<(), AudioSkip> {
        let dep = AudioDepacketizer::from_section(section)?;
        let clock = WallClock::new(dep.clock_rate());
        let mut configs: Vec<_> = self.writer.audio_tracks().to_vec();
        configs.push(dep.config());
        // No file is open before the first packet: nothing closes.
        if let Err(e) = self.writer.set_audio_tracks(configs) {
            log::warn!("adding an audio track: {e}");
        }
        self.audio.push(AudioTrack {
            track,
            dep,
            clock,
            rtptime,
            no_sender_report: false,
        });
        Ok(())
    }

    /// The `RTP-Info` rtptime the PLAY answer gave for the video track.
    pub fn set_video_rtptime(&mut self, rtptime: Option<u32>) {
        self.video_rtptime = rtptime;
    }

    /// One RTP packet of audio track `track`, received at `received_ntp`. Packets of a track
    /// not added are ignored; bad packets are counted and dropped (the audio has a hole, the
    /// file goes on).
    pub fn on_audio(&mut self, track: usize, pkt: RtpPacket, received_ntp: u64) {
        let Some(lane) = self.audio.iter().position(|a| a.track == track) else {
            return;
        };
        if let Err(e) = self.audio[lane].dep.push(pkt) {
            self.audio_errors += 1;
            if self.audio_errors <= 10 || self.audio_errors.is_power_of_two() {
                log::warn!("audio RTP: {e} ({} so far)", self.audio_errors);
            }
        }
        while let Some(frame) = self.audio[lane].dep.pull() {
            // Timed at arrival, so that the track's sender reports can be read (they need a
            // frame to extend their 32-bit RTP time).
            self.audio[lane].clock.wall(frame.timestamp, received_ntp);
            self.audio_waiting.push_back((lane, frame, received_ntp));
            if self.audio_waiting.len() > MAX_WAITING_AUDIO {
                self.give_up_waiting();
            }
        }
        if let Some(&(lane, _, first)) = self.audio_waiting.front()
            && super::clock::ntp_diff_secs(received_ntp, first) > MAX_AUDIO_SR_WAIT.as_secs_f64()
            && self.clock.last_ts().is_some()
        {
            self.mark_no_sender_report(lane);
        }
        self.place_waiting_audio();
    }

    /// The waiting queue is full: the video never started (drop the oldest frame), or an
    /// audio track's sender report never came (place that track by arrival).
    fn give_up_waiting(&mut self) {
        if self.clock.last_ts().is_none() {
            if let Some((lane, mut frame, _)) = self.audio_waiting.pop_front() {
                self.writer.push_audio(lane, &mut frame, None);
            }
        } else if let Some(&(lane, _, _)) = self.audio_waiting.front() {
            self.mark_no_sender_report(lane);
        }
    }

    fn mark_no_sender_report(&mut self, lane: usize) {
        let a = &mut self.audio[lane];
        if !a.no_sender_report {
            log::warn!(
                "audio track {}: no sender report while the video has them; placing it by \
                 arrival (lip sync as good as the network's jitter)",
                a.track
            );
            a.no_sender_report = true;
        }
    }

    /// True when audio of lane `lane` can be placed now (see the module docs).
    fn audio_ready(&self, lane: usize) -> bool {
        let a = &self.audio[lane];
        if self.clock.last_ts().is_none() {
            return false;
        }
        if self.video_rtptime.is_some() && a.rtptime.is_some() {
            return true;
        }
        !(self.clock.source() == ClockSource::SenderReport
            && a.clock.source() != ClockSource::SenderReport
            && !a.no_sender_report)
    }

    /// Places the waiting audio of every track that can be placed now, in arrival order; the
    /// others keep waiting.
    fn place_waiting_audio(&mut self) {
        // In place, once round the queue: it keeps its allocation, so a steady stream of
        // audio frames passing through it allocates nothing. (Placing a frame never changes
        // which tracks are ready: only reports and the first video frame do.)
        for _ in 0..self.audio_waiting.len() {
            let Some((lane, mut frame, received)) = self.audio_waiting.pop_front() else {
                break;
            };
            if lane < self.audio.len() && self.audio_ready(lane) {
                let video_ts = self.audio_on_video_clock(lane, frame.timestamp, received);
                self.writer.push_audio(lane, &mut frame, video_ts);
            } else {
                self.audio_waiting.push_back((lane, frame, received));
            }
        }
    }

    /// An RTCP sender report of audio track `track`.
    pub fn on_audio_sender_report(
        &mut self,
        track: usize,
        ntp: u64,
        rtp_timestamp: u32,
        received_ntp: u64,
    ) {
        if let Some(a) = self.audio.iter_mut().find(|a| a.track == track) {
            a.clock.on_sender_report(ntp, rtp_timestamp, received_ntp);
        }
        self.place_waiting_audio();
    }

    /// The video RTP time of audio time `ts` of lane `lane` (see the module docs).
    fn audio_on_video_clock(&mut self, lane: usize, ts: i64, received_ntp: u64) -> Option<i64> {
        let video_rate = i64::from(self.clock.clock_rate());
        let a = &mut self.audio[lane];
        let rate = i64::from(a.dep.clock_rate().max(1));
        let wall = a.clock.wall(ts, received_ntp);
        if let (Some(v_rt), Some(a_rt), Some(v_last)) =
            (self.video_rtptime, a.rtptime, self.clock.last_ts())
        {
            let v = super::clock::extend_near(v_last, v_rt);
            let at = super::clock::extend_near(ts, a_rt);
            let ticks = i128::from(ts - at) * i128::from(video_rate) / i128::from(rate);
            return i64::try_from(i128::from(v) + ticks).ok();
        }
        self.clock.ts_at(wall)
    }

    /// Every track's wall clock has its anchor (the video's and each audio track's first
    /// frame is timed): later arrival times only feed the receiver reports' jitter, so the
    /// source may start coalescing reads ([`crate::rtsp::Source::start_coalescing`]).
    pub fn clocks_anchored(&self) -> bool {
        self.clock.source() != ClockSource::None
            && self
                .audio
                .iter()
                .all(|a| a.clock.source() != ClockSource::None)
    }

    /// Audio packets the depacketizers refused.
    pub fn audio_errors(&self) -> u64 {
        self.audio_errors
    }

    /// The codec being recorded.
    pub fn codec(&self) -> VideoCodec {
        match self.video {
            Video::H264(_) => VideoCodec::H264,
            Video::H265(..) => VideoCodec::H265,
        }
    }

    /// Set when the SDP announced H.265 but the packets read as H.264 (some cameras do,
    /// go2rtc #264): nothing of such a stream is recorded; the session should end with this
    /// error (the recorder reports it as the reason of the disconnect).
    pub fn codec_error(&self) -> Option<&H265DepacketizeError> {
        self.codec_error.as_ref()
    }

    fn count_error(&mut self, e: &dyn std::fmt::Display) {
        self.rtp_errors += 1;
        if self.rtp_errors <= 10 || self.rtp_errors.is_power_of_two() {
            log::warn!("RTP: {e} ({} so far)", self.rtp_errors);
        }
    }

    /// One RTP packet received at wall-clock `received_ntp`. Bad packets are counted and
    /// logged; only an I/O error (the disk) is returned.
    pub fn on_rtp(&mut self, pkt: RtpPacket, received_ntp: u64) -> io::Result<()> {
        match &mut self.video {
            Video::H264(dep) => {
                if let Err(e) = dep.push(pkt) {
                    self.count_error(&e);
                }
                self.drain_h264(received_ntp)
            }
            Video::H265(dep, _) => {
                if let Err(e) = dep.push(pkt) {
                    if matches!(e, H265DepacketizeError::LooksLikeH264 { .. })
                        && self.codec_error.is_none()
                    {
                        log::error!("{e}: nothing of this stream is recorded");
                        self.codec_error = Some(e.clone());
                    }
                    self.count_error(&e);
                }
                self.drain_h265(received_ntp)
            }
        }
    }

    fn drain_h264(&mut self, received_ntp: u64) -> io::Result<()> {
        let Video::H264(dep) = &mut self.video else {
            return Ok(());
        };
        while let Some(mut au) = dep.pull() {
            let wall = self.clock.wall(au.timestamp, received_ntp);
            let closed = self.writer.push(&mut au, wall);
            // The emptied access unit's vectors go back: no allocation per frame once warm.
            dep.recycle(au);
            self.closed.extend(closed?);
        }
        self.place_waiting_audio();
        Ok(())
    }

    fn drain_h265(&mut self, received_ntp: u64) -> io::Result<()> {
        let Video::H265(dep, stats) = &mut self.video else {
            return Ok(());
        };
        let mut result = Ok(());
        while let Some(mut f) = dep.pull() {
            let wall = self.clock.wall(f.au.timestamp, received_ntp);
            let pushed = self
                .writer
                .push_h265(&mut f.au, f.new_parameters.as_ref(), wall);
            // The emptied access unit's vectors go back: no allocation per frame once warm.
            dep.recycle(f.au);
            match pushed {
                Ok(c) => self.closed.extend(c),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        mirror_h265_stats(dep.stats(), stats);
        self.place_waiting_audio();
        result
    }

    /// An RTCP sender report received at `received_ntp`. The camera's first report re-times
    /// the fragment being built, whose frames were timed by arrival until then (see
    /// [`super::clock`], rule 2).
    pub fn on_sender_report(&mut self, ntp: u64, rtp_timestamp: u32, received_ntp: u64) {
        let before = self.clock.source();
        self.clock
            .on_sender_report(ntp, rtp_timestamp, received_ntp);
        if before != ClockSource::SenderReport
            && self.clock.source() == ClockSource::SenderReport
            && let Some(ts) = self.writer.fragment_first_ts()
            && let Some(wall) = self.clock.map(ts)
        {
            self.writer.retime_fragment(wall);
        }
    }

    /// End of stream: emit everything the depacketizer holds (the reorder window may hold
    /// several pictures after a loss) and close the file.
    pub fn finish(&mut self, received_ntp: u64) -> io::Result<()> {
        match &mut self.video {
            Video::H264(dep) => {
                while let Some(mut au) = dep.flush() {
                    let wall = self.clock.wall(au.timestamp, received_ntp);
                    let closed = self.writer.push(&mut au, wall)?;
                    self.closed.extend(closed);
                }
            }
            Video::H265(dep, stats) => {
                let flushed = dep.flush();
                let mut frames: Vec<_> = flushed.into_iter().collect();
                while let Some(f) = dep.pull() {
                    frames.push(f);
                }
                mirror_h265_stats(dep.stats(), stats);
                for mut f in frames {
                    let wall = self.clock.wall(f.au.timestamp, received_ntp);
                    let closed =
                        self.writer
                            .push_h265(&mut f.au, f.new_parameters.as_ref(), wall)?;
                    self.closed.extend(closed);
                }
            }
        }
        // Audio still waiting for its sender report goes in by arrival rather than not at all.
        for lane in 0..self.audio.len() {
            if self.audio_waiting.iter().any(|(l, ..)| *l == lane) {
                self.mark_no_sender_report(lane);
            }
        }
        self.place_waiting_audio();
        let closed = self.writer.finish()?;
        self.closed.extend(closed);
        Ok(())
    }

    /// Files closed since the last call (including those a failed write closed).
    pub fn take_closed(&mut self) -> Vec<ClosedSegment> {
        let mut out = std::mem::take(&mut self.closed);
        out.append(&mut self.writer.take_closed_on_error());
        out
    }

    /// Drops frames instead of writing them (disk full) while keeping the depacketizer and
    /// clock state, so resuming counts no false losses; see [`SegmentWriter::set_paused`].
    pub fn set_paused(&mut self, paused: bool) {
        self.writer.set_paused(paused);
    }

    /// Writer counters.
    pub fn segment_stats(&self) -> &SegmentStats {
        self.writer.stats()
    }

    /// Depacketizer counters (for H.265, its counters in the H.264 shape; per-kind error
    /// counts are H.264 only).
    pub fn depacketizer_stats(&self) -> &DepacketizerStats {
        match &self.video {
            Video::H264(dep) => dep.stats(),
            Video::H265(_, stats) => stats,
        }
    }

    /// Packets the depacketizer refused.
    pub fn rtp_errors(&self) -> u64 {
        self.rtp_errors
    }

    /// The writer (current file, track).
    pub fn writer(&self) -> &SegmentWriter {
        &self.writer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::test_packets::Packetizer;

    fn section(encoding: &str) -> MediaSection {
        MediaSection {
            media: "video".into(),
            encoding: encoding.into(),
            clock_rate: 90_000,
            ..MediaSection::default()
        }
    }

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("camwire-ingest-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("mkdir");
        d
    }

    /// H.265 access units (Dahua VPS/SPS/PPS, an IDR, trailing pictures, a CRA) become one
    /// `hvc1` file; the CRA is a keyframe (it starts the second fragment).
    #[test]
    fn h265_section_records_hvc1() {
        use crate::h265::tests::{DAHUA_PPS, DAHUA_SPS, DAHUA_VPS};
        let dir = tmp("h265");
        let path = dir.join("out.mp4");
        let mut ingest = Ingest::new(
            &section("H265"),
            Naming::Fixed(path.clone()),
            SegmentOptions {
                fsync: super::super::segment::FsyncPolicy::Never,
                ..SegmentOptions::default()
            },
            DepacketizerOptions::default(),
        );
        assert_eq!(ingest.codec(), VideoCodec::H265);
        let mut p = Packetizer::new(100);
        let ntp = 3_900_000_000u64 << 32;
        for i in 0..10u32 {
            let ts = 1000 + i * 3600;
            let nal_type: u8 = match i {
                0 => 19, // IDR_W_RADL
                5 => 21, // CRA
                _ => 1,  // TRAIL_R
            };
            if nal_type != 1 {
                for ps in [DAHUA_VPS, DAHUA_SPS, DAHUA_PPS] {
                    ingest.on_rtp(p.single(ts, false, ps), ntp).expect("write");
                }
            }
            let slice = [nal_type << 1, 0x01, 0x80 | (i as u8), 0x55, 0xaa];
            ingest
                .on_rtp(p.single(ts, true, &slice), ntp)
                .expect("write");
        }
        ingest.finish(ntp).expect("finish");
        assert!(ingest.codec_error().is_none());
        assert_eq!(ingest.depacketizer_stats().access_units, 10);
        let closed = ingest.take_closed();
        assert_eq!(closed.len(), 1);
        assert_eq!(closed[0].frames, 10);
        assert_eq!(
            ingest.segment_stats().fragments,
            2,
            "the CRA starts a fragment"
        );
        let mut f = std::fs::File::open(&path).expect("file");
        let track = crate::fmp4::read_init(&mut f).expect("init");
        assert_eq!(track.codec, VideoCodec::H265);
        assert_eq!((track.width, track.height), (704, 480));
        let cfg =
            crate::h265::HevcDecoderConfig::from_parameter_sets(DAHUA_VPS, DAHUA_SPS, DAHUA_PPS)
                .expect("hvcC");
        assert_eq!(track.config, cfg.to_bytes().expect("bytes"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A camera that announces H.265 and sends H.264: a typed error, nothing written, no
    /// panic.
    #[test]
    fn h265_announced_h264_sent_is_a_typed_error() {
        let dir = tmp("mismatch");
        let mut ingest = Ingest::new(
            &section("H265"),
            Naming::Fixed(dir.join("out.mp4")),
            SegmentOptions::default(),
            DepacketizerOptions::default(),
        );
        let mut p = Packetizer::new(7);
        for i in 0..5u32 {
            let ts = i * 3600;
            for nal in [
                &b"\x67\x42\xc0\x1e\xd9"[..],
                b"\x68\xce\x3c\x80",
                b"\x65\x88\x84\x00",
            ] {
                ingest
                    .on_rtp(p.single(ts, nal[0] == 0x65, nal), 0)
                    .expect("no I/O error");
            }
        }
        ingest.finish(0).expect("finish");
        assert!(matches!(
            ingest.codec_error(),
            Some(H265DepacketizeError::LooksLikeH264 { .. })
        ));
        assert!(ingest.rtp_errors() > 0);
        assert_eq!(ingest.segment_stats().files, 0);
        assert!(ingest.take_closed().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// H.264 video with sender reports and a PCMU track whose first report comes 2 s after
    /// its first packet, while its packets arrive 300 ms late: the audio waits for its report
    /// and is placed by it (the camera's lip sync), not by arrival. With the report on the
    /// video only and none for the audio, it goes in by arrival at the end.
    #[test]
    fn audio_waits_for_its_sender_report_when_the_video_has_them() {
        use crate::rtp::test_packets::{PPS, SPS, idr, p_slice};
        let run = |audio_sr: bool| {
            let dir = tmp(&format!("av-sr-{audio_sr}"));
            let path = dir.join("out.mp4");
            let mut ingest = Ingest::new(
                &section("H264"),
                Naming::Fixed(path.clone()),
                SegmentOptions {
                    fsync: super::super::segment::FsyncPolicy::Never,
                    ..SegmentOptions::default()
                },
                DepacketizerOptions::default(),
            );
            let audio = crate::rtsp::sdp::media_sections(b"m=audio 0 RTP/AVP 0\n").unwrap();
            ingest.add_audio(1, &audio[0], None).expect("PCMU");
            let t0 = 3_900_000_000u64 << 32;
            let ms = |n: i64| (t0 as i64 + (n << 32) / 1000) as u64;
            let (mut v, mut a) = (Packetizer::new(1), Packetizer::new(500));
            // Video RTP 0 and audio RTP 80_000 were both captured at t0 (camera clock).
            ingest.on_rtp(v.single(0, false, SPS), ms(0)).unwrap();
            ingest.on_rtp(v.single(0, false, PPS), ms(0)).unwrap();
            ingest
                .on_rtp(v.single(0, true, &idr(50, 1)), ms(0))
                .unwrap();
            ingest.on_sender_report(t0, 0, ms(0));
            for k in 0..150i64 {
                // 20 ms of audio per packet, arriving 300 ms late; video at 25 fps.
                let ats = 80_000 + 160 * k as u32;
                let pkt = a.packet(ats, false, &[0x55u8; 160]);
                ingest.on_audio(
                    1,
                    RtpPacket {
                        payload_type: 0,
                        ..pkt
                    },
                    ms(20 * k + 300),
                );
                if k == 100 && audio_sr {
                    ingest.on_audio_sender_report(1, ms(2000), 80_000 + 16_000, ms(2300));
                }
                if k % 2 == 1 {
                    let vts = (k as u32 / 2 + 1) * 3600;
                    let at = ms(40 * (k / 2 + 1));
                    ingest
                        .on_rtp(v.single(vts, true, &p_slice(30, k as u8)), at)
                        .unwrap();
                }
            }
            ingest.finish(ms(3000)).unwrap();
            let mut f = std::fs::File::open(&path).unwrap();
            let scan = crate::fmp4::scan_fragments(&mut f).unwrap();
            // Audio that waited lands in a later fragment than the video it goes with.
            let first = scan
                .fragments
                .iter()
                .find_map(|f| f.audio.first())
                .map(|t| t.base_decode_time);
            let frames = ingest.segment_stats().audio_frames;
            let _ = std::fs::remove_dir_all(&dir);
            (first, frames)
        };
        // By the report: audio RTP 80_000 is at t0, the video's first frame: decode time 0.
        assert_eq!(run(true), (Some(0), 150));
        // By arrival: 300 ms late (8 kHz ticks; NTP to RTP rounds down by a tick at most).
        let (at, frames) = run(false);
        assert!(at.is_some_and(|t| t.abs_diff(2400) <= 1), "{at:?}");
        assert_eq!(frames, 150);
    }
}

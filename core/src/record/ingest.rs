//! RTP in, MP4 files out: the pipeline shared by live recording and offline replay.

use super::clock::WallClock;
use super::segment::{ClosedSegment, Naming, SegmentOptions, SegmentStats, SegmentWriter};
use crate::rtp::{DepacketizerOptions, DepacketizerStats, H264Depacketizer, RtpPacket};
use crate::rtsp::sdp::MediaSection;
use std::io;

/// Depacketizer, wall clock and segment writer for one H.264 track.
pub struct Ingest {
    depacketizer: H264Depacketizer,
    clock: WallClock,
    writer: SegmentWriter,
    rtp_errors: u64,
    closed: Vec<ClosedSegment>,
}

impl Ingest {
    /// A pipeline for the given SDP video section (its sprop-parameter-sets seed the
    /// decoder configuration; garbage there is tolerated, in-band SPS/PPS then rule).
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
        Self {
            depacketizer: H264Depacketizer::new(
                depacketizer,
                video.fmtp_param("sprop-parameter-sets"),
            ),
            clock: WallClock::new(clock_rate),
            writer: SegmentWriter::new(naming, segment, clock_rate),
            rtp_errors: 0,
            closed: Vec::new(),
        }
    }

    /// One RTP packet received at wall-clock `received_ntp`. Bad packets are counted and
    /// logged; only an I/O error (the disk) is returned.
    pub fn on_rtp(&mut self, pkt: RtpPacket, received_ntp: u64) -> io::Result<()> {
        if let Err(e) = self.depacketizer.push(pkt) {
            self.rtp_errors += 1;
            if self.rtp_errors <= 10 || self.rtp_errors.is_power_of_two() {
                log::warn!("RTP: {e} ({} so far)", self.rtp_errors);
            }
        }
        while let Some(mut au) = self.depacketizer.pull() {
            let wall = self.clock.wall(au.timestamp, received_ntp);
            let closed = self.writer.push(&mut au, wall);
            // The emptied access unit's vectors go back: no allocation per frame once warm.
            self.depacketizer.recycle(au);
            self.closed.extend(closed?);
        }
        Ok(())
    }

    /// An RTCP sender report received at `received_ntp`.
    pub fn on_sender_report(&mut self, ntp: u64, rtp_timestamp: u32, received_ntp: u64) {
        self.clock
            .on_sender_report(ntp, rtp_timestamp, received_ntp);
    }

    /// End of stream: emit everything the depacketizer holds (the reorder window may hold
    /// several pictures after a loss) and close the file.
    pub fn finish(&mut self, received_ntp: u64) -> io::Result<()> {
        while let Some(mut au) = self.depacketizer.flush() {
            let wall = self.clock.wall(au.timestamp, received_ntp);
            let closed = self.writer.push(&mut au, wall)?;
            self.closed.extend(closed);
        }
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

    /// Depacketizer counters.
    pub fn depacketizer_stats(&self) -> &DepacketizerStats {
        self.depacketizer.stats()
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

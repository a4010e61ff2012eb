//! The work the benches measure, written once so that the criterion benches and the
//! allocation accounting run exactly the same code: camwire's hot path (depacketize, mux,
//! replay to a file) and retina's own depacketizer doing the same jobs on the same capture.
//!
//! Inputs are `camwire capture` files (`PREFIX.sdp` + interleaved `PREFIX.rtp`), loaded into
//! one buffer as a receive buffer would hold them; every packet is a `Bytes` slice of it.
//! H.264 captures are committed; the H.265 one is made on first use ([`h265_capture`]).

use bytes::Bytes;
use camwire::capture::Reader;
use camwire::fmp4::FragmentBuilder;
use camwire::record::replay::{ReplayReport, replay};
use camwire::record::{FsyncPolicy, Ingest, Naming, SegmentOptions};
use camwire::rtp::h265::{H265Depacketizer, H265DepacketizerOptions, H265Fmtp};
use camwire::rtp::{DepacketizerOptions, H264Depacketizer, RtpPacket};
use camwire::rtsp::sdp::{self, MediaSection};
use retina::codec::{CodecItem, Depacketizer};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

mod h265_capture;
pub use h265_capture::{H265_CAPTURE, h265_capture};

/// The directory holding the committed captures (core's testdata and benches' own).
pub fn testdata(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let own = root.join("testdata").join(name);
    if own.with_extension("rtp").exists() {
        return own;
    }
    root.join("../core/testdata").join(name)
}

/// A capture in memory.
pub struct Capture {
    /// What the benches call it.
    pub name: String,
    /// The DESCRIBE answer's body.
    pub sdp: Vec<u8>,
    /// The whole interleaved file.
    pub interleaved: Bytes,
    /// The video section of the SDP (the first H.264 or H.265 one).
    pub video: MediaSection,
    /// The video track's RTP packets (slices of `interleaved`), in order.
    pub packets: Vec<Bytes>,
    /// Sum of the RTP payload sizes of `packets`: the unit of every throughput figure.
    pub payload_bytes: u64,
}

impl Capture {
    /// Loads `PREFIX.sdp` and `PREFIX.rtp`.
    pub fn load(prefix: &Path) -> io::Result<Capture> {
        let sdp_body = std::fs::read(prefix.with_extension("sdp"))?;
        let interleaved = Bytes::from(std::fs::read(prefix.with_extension("rtp"))?);
        let video = sdp::media_sections(&sdp_body)
            .map_err(io::Error::other)?
            .into_iter()
            .find(|m| m.media == "video" && matches!(m.encoding.as_str(), "H264" | "H265"))
            .ok_or_else(|| io::Error::other("no H.264 or H.265 video section"))?;
        let channel = u8::try_from(video.index * 2).unwrap_or(u8::MAX);
        let mut packets = Vec::new();
        let mut payload_bytes = 0u64;
        for frame in Reader::new(interleaved.clone()) {
            let frame = frame.map_err(io::Error::other)?;
            if frame.channel == channel {
                let pkt = RtpPacket::parse(frame.data.clone()).map_err(io::Error::other)?;
                payload_bytes += pkt.payload.len() as u64;
                packets.push(frame.data);
            }
        }
        Ok(Capture {
            name: prefix
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            sdp: sdp_body,
            interleaved,
            video,
            packets,
            payload_bytes,
        })
    }

    /// The `a=fmtp` parameters as one string, as retina's depacketizer takes them.
    pub fn fmtp(&self) -> String {
        let parts: Vec<String> = self
            .video
            .fmtp
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        parts.join(";")
    }

    /// The RTP clock rate (90 kHz when the SDP omits it).
    pub fn clock_rate(&self) -> u32 {
        if self.video.clock_rate == 0 {
            90_000
        } else {
            self.video.clock_rate
        }
    }

    /// True for an H.265 capture.
    pub fn is_h265(&self) -> bool {
        self.video.encoding == "H265"
    }

    fn depacketizer(&self) -> Depack {
        if self.is_h265() {
            Depack::H265(H265Depacketizer::new(
                H265DepacketizerOptions::default(),
                &H265Fmtp::parse(&self.fmtp()),
            ))
        } else {
            Depack::H264(H264Depacketizer::new(
                DepacketizerOptions::default(),
                self.video.fmtp_param("sprop-parameter-sets"),
            ))
        }
    }
}

/// camwire's depacketizer for the capture's codec, behind one interface.
enum Depack {
    H264(H264Depacketizer),
    H265(H265Depacketizer),
}

impl Depack {
    fn push(&mut self, pkt: RtpPacket) {
        match self {
            Depack::H264(d) => {
                let _ = d.push(pkt);
            }
            Depack::H265(d) => {
                let _ = d.push(pkt);
            }
        }
    }

    fn pull(&mut self) -> Option<camwire::AccessUnit> {
        match self {
            Depack::H264(d) => d.pull(),
            Depack::H265(d) => d.pull().map(|f| f.au),
        }
    }

    fn flush(&mut self) -> Option<camwire::AccessUnit> {
        match self {
            Depack::H264(d) => d.flush(),
            Depack::H265(d) => d.flush().map(|f| f.au),
        }
    }

    fn recycle(&mut self, au: camwire::AccessUnit) {
        match self {
            Depack::H264(d) => d.recycle(au),
            Depack::H265(d) => d.recycle(au),
        }
    }
}

/// camwire: depacketize every packet into access units (handed back for reuse, as the
/// recorder does). Returns the number of access units.
pub fn camwire_depacketize(cap: &Capture) -> u64 {
    let mut d = cap.depacketizer();
    let mut frames = 0;
    for raw in &cap.packets {
        let Ok(pkt) = RtpPacket::parse(raw.clone()) else {
            continue;
        };
        d.push(pkt);
        while let Some(au) = d.pull() {
            frames += 1;
            d.recycle(au);
        }
    }
    frames + u64::from(d.flush().is_some())
}

/// camwire: depacketize and mux into fMP4 fragments (a fragment per keyframe or per second,
/// as the recorder cuts them) written to `out`, one vectored write each. Returns the number
/// of access units.
pub fn camwire_mux<W: Write>(cap: &Capture, out: &mut W) -> io::Result<u64> {
    let mut d = cap.depacketizer();
    let mut builder = FragmentBuilder::new();
    let second = i64::from(cap.clock_rate());
    let mut first_ts = None;
    let mut frames = 0;
    let mut mux = |au: &mut camwire::AccessUnit, b: &mut FragmentBuilder| -> io::Result<()> {
        let origin = *first_ts.get_or_insert(au.timestamp);
        let dts = au.timestamp - origin;
        if !b.is_empty() && (au.keyframe || dts - b.first_dts().unwrap_or(dts) >= second) {
            b.write_to(out, Some(dts), None)?;
        }
        b.push(au, dts, dts);
        Ok(())
    };
    for raw in &cap.packets {
        let Ok(pkt) = RtpPacket::parse(raw.clone()) else {
            continue;
        };
        d.push(pkt);
        while let Some(mut au) = d.pull() {
            frames += 1;
            mux(&mut au, &mut builder)?;
            d.recycle(au);
        }
    }
    if let Some(mut au) = d.flush() {
        frames += 1;
        mux(&mut au, &mut builder)?;
    }
    builder.write_to(out, None, None)?;
    Ok(frames)
}

/// camwire: `camwire replay` (capture framing, RTCP, wall clock, init segment, fragments)
/// into the file `out`. Returns the number of frames recorded.
///
/// H.265: `record::replay` takes H.264 sections only (so far), so the same loop is run here:
/// the capture framing, then the recorder's `Ingest` (H.265 depacketizer, wall clock,
/// `hvc1` init segment, fragments) into one file with the options `replay` uses (one
/// segment, no fsync). The generated H.265 capture has no RTCP, so nothing else differs.
pub fn camwire_replay(cap: &Capture, out: &Path) -> Result<u64, String> {
    let _ = std::fs::remove_file(out);
    if !cap.is_h265() {
        let rep: ReplayReport =
            replay(&cap.sdp, cap.interleaved.clone(), out).map_err(|e| e.to_string())?;
        return Ok(rep.segments.frames);
    }
    let mut ingest = Ingest::new(
        &cap.video,
        Naming::Fixed(out.to_path_buf()),
        SegmentOptions {
            segment_secs: u32::MAX,
            fsync: FsyncPolicy::Never,
            ..Default::default()
        },
        DepacketizerOptions::default(),
    );
    let channel = u8::try_from(cap.video.index * 2).unwrap_or(u8::MAX);
    // No arrival times in a capture; `alloc` passes 0 too.
    let now = 0;
    for frame in Reader::new(cap.interleaved.clone()) {
        let frame = frame.map_err(|e| e.to_string())?;
        if frame.channel == channel
            && let Ok(pkt) = RtpPacket::parse(frame.data)
        {
            ingest.on_rtp(pkt, now).map_err(|e| e.to_string())?;
        }
    }
    ingest.finish(now).map_err(|e| e.to_string())?;
    Ok(ingest.segment_stats().frames)
}

/// retina: its own depacketizer, fed the way retina's `depacketize` bench and its `demuxed()`
/// stream feed it (RTP header validation and the in-order/timeline bookkeeping of
/// `InorderParser`, then the payload through its receive ring), each frame passed to
/// `on_frame`. Returns the number of frames.
pub fn retina_depacketize<F: FnMut(&retina::codec::VideoFrame)>(
    cap: &Capture,
    mut on_frame: F,
) -> u64 {
    retina_frames(cap, cap.packets.iter().cloned(), &mut on_frame)
}

fn retina_frames<F: FnMut(&retina::codec::VideoFrame)>(
    cap: &Capture,
    packets: impl Iterator<Item = Bytes>,
    on_frame: &mut F,
) -> u64 {
    let encoding = if cap.is_h265() { "h265" } else { "h264" };
    let mut depacketizer =
        Depacketizer::new("video", encoding, cap.clock_rate(), None, Some(&cap.fmtp()))
            .expect("retina accepts the capture's fmtp");
    let mut timeline =
        retina::client::Timeline::new(None, cap.clock_rate(), None).expect("clock rate");
    let mut parser = retina::client::rtp::InorderParser::new(
        None,
        None,
        retina::client::UnknownRtcpSsrcPolicy::Default,
    );
    let mut buf = retina::testutil::DepacketizeBuf::new(1 << 16);
    let opts = retina::client::SessionOptions::default();
    let conn_ctx = retina::ConnectionContext::dummy();
    let stream_ctx = retina::StreamContext::dummy();
    let pkt_ctx = retina::PacketContext::dummy();
    let mut frames = 0;
    for data in packets {
        let Ok((header, range)) = retina::rtp::PacketHeader::validate(&data[..]) else {
            continue;
        };
        let Ok(Some(meta)) = parser.rtp(
            &opts,
            &stream_ctx,
            None,
            &conn_ctx,
            &pkt_ctx,
            &mut timeline,
            0,
            &header,
        ) else {
            continue;
        };
        let payload = &data[usize::from(range.start)..usize::from(range.end)];
        if buf.push(&mut depacketizer, meta, payload).is_err() {
            continue;
        }
        while let Some(item) = depacketizer.pull() {
            if let Ok(CodecItem::VideoFrame(f)) = item {
                frames += 1;
                on_frame(&f);
            }
        }
    }
    frames
}

/// retina: the capture framing and depacketizer, every frame written to `out` with one
/// `write_all` (retina's "depacketize and write frames" figure).
pub fn retina_write_frames<W: Write>(cap: &Capture, out: &mut W) -> io::Result<u64> {
    let channel = u8::try_from(cap.video.index * 2).unwrap_or(u8::MAX);
    let packets = Reader::new(cap.interleaved.clone())
        .map_while(Result::ok)
        .filter(|f| f.channel == channel)
        .map(|f| f.data);
    let mut err = None;
    let frames = retina_frames(cap, packets, &mut |f| {
        if err.is_none()
            && let Err(e) = out.write_all(f.data())
        {
            err = Some(e);
        }
    });
    match err {
        Some(e) => Err(e),
        None => Ok(frames),
    }
}

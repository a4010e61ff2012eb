//! The H.265 bench capture, made on first use and cached: 10 s of `testsrc2` 1920x1080p25
//! encoded by libx265 (`-preset ultrafast`, 4 Mbit/s, no B-frames, an IDR every 50 frames with
//! VPS/SPS/PPS repeated before it, as cameras send), packetized per RFC 7798 the way
//! GStreamer's `rtph265pay` does by default (single NAL unit packets up to 1400 bytes of
//! payload, fragmentation units above; marker on an access unit's last packet; 90 kHz
//! timestamps), written as a `camwire capture` pair (`PREFIX.sdp`, `PREFIX.rtp`) with
//! `sprop-vps/sps/pps` in the SDP.
//!
//! Needs ffmpeg with libx265 the first time. The files go to `target/bench-cache/` (or
//! `$CAMWIRE_BENCH_CACHE`); delete them to make a new one.

use camwire::capture::write_frame;
use camwire::h264::annexb;
use camwire::h265::nal;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The capture's name (file prefix and criterion group).
pub const H265_CAPTURE: &str = "x265_1080p_capture";

/// Largest RTP payload: single NAL units up to this, fragmentation units above.
const MTU_PAYLOAD: usize = 1400;
const FPS: u32 = 25;
const SECS: u32 = 10;

/// The prefix of the H.265 capture, made (ffmpeg + libx265, a few seconds) if not cached.
pub fn h265_capture() -> io::Result<PathBuf> {
    let dir = match std::env::var_os("CAMWIRE_BENCH_CACHE") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-cache"),
    };
    std::fs::create_dir_all(&dir)?;
    let prefix = dir.join(H265_CAPTURE);
    if prefix.with_extension("rtp").exists() && prefix.with_extension("sdp").exists() {
        return Ok(prefix);
    }
    let hevc = dir.join(format!("{H265_CAPTURE}.{}.hevc", std::process::id()));
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size=1920x1080:rate={FPS}"))
        .args(["-t", &SECS.to_string(), "-pix_fmt", "yuv420p"])
        .args(["-c:v", "libx265", "-preset", "ultrafast", "-b:v", "4M"])
        .args([
            "-x265-params",
            "log-level=error:bframes=0:keyint=50:min-keyint=50:scenecut=0:repeat-headers=1:info=0",
            "-f",
            "hevc",
        ])
        .arg(&hevc)
        .output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "ffmpeg (libx265) failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let annexb_data = std::fs::read(&hevc)?;
    let _ = std::fs::remove_file(&hevc);
    let tmp = prefix.with_extension("rtp.tmp");
    let params = packetize(
        &annexb_data,
        &mut BufWriter::new(std::fs::File::create(&tmp)?),
    )?;
    std::fs::write(prefix.with_extension("sdp"), sdp(&params))?;
    std::fs::rename(&tmp, prefix.with_extension("rtp"))?;
    Ok(prefix)
}

/// Splits an Annex B stream into access units (H.265 §7.4.2.4.4: parameter sets, AUD and
/// prefix SEI after a picture's slices, or a slice with `first_slice_segment_in_pic_flag`,
/// begin the next one) and writes them as RTP packets on channel 0. Returns the first VPS,
/// SPS and PPS.
fn packetize<W: Write>(data: &[u8], out: &mut W) -> io::Result<[Vec<u8>; 3]> {
    let mut params: [Vec<u8>; 3] = Default::default();
    let mut aus: Vec<Vec<&[u8]>> = Vec::new();
    let mut has_vcl = false;
    for r in annexb::nal_ranges(data) {
        let unit = &data[r];
        if unit.len() < 3 {
            continue;
        }
        let t = nal::nal_type(unit[0]);
        if (nal::VPS..=nal::PPS).contains(&t) && params[usize::from(t - nal::VPS)].is_empty() {
            params[usize::from(t - nal::VPS)] = unit.to_vec();
        }
        let starts_au = if nal::is_vcl(t) {
            unit[2] & 0x80 != 0
        } else {
            matches!(t, nal::VPS..=nal::AUD | nal::PREFIX_SEI)
        };
        if aus.is_empty() || (has_vcl && starts_au) {
            aus.push(Vec::new());
            has_vcl = false;
        }
        has_vcl |= nal::is_vcl(t);
        aus.last_mut().expect("pushed above").push(unit);
    }
    let mut seq = 0u16;
    let mut pkt = Vec::with_capacity(12 + MTU_PAYLOAD);
    for (i, au) in aus.iter().enumerate() {
        let ts = (i as u32).wrapping_mul(90_000 / FPS);
        for (j, unit) in au.iter().enumerate() {
            let last_nal = j + 1 == au.len();
            if unit.len() <= MTU_PAYLOAD {
                rtp_header(&mut pkt, seq, ts, last_nal);
                pkt.extend_from_slice(unit);
                write_frame(out, 0, &pkt)?;
                seq = seq.wrapping_add(1);
                continue;
            }
            // Fragmentation unit: payload header (type 49, the NAL's layer id and tid), FU
            // header (S, E, the NAL's type), then the NAL unit without its 2-byte header.
            let t = nal::nal_type(unit[0]);
            let chunks: Vec<&[u8]> = unit[2..].chunks(MTU_PAYLOAD - 3).collect();
            for (k, chunk) in chunks.iter().enumerate() {
                let (first, last) = (k == 0, k + 1 == chunks.len());
                rtp_header(&mut pkt, seq, ts, last_nal && last);
                pkt.extend_from_slice(&[
                    (unit[0] & 0x81) | (nal::FU << 1),
                    unit[1],
                    u8::from(first) << 7 | u8::from(last) << 6 | t,
                ]);
                pkt.extend_from_slice(chunk);
                write_frame(out, 0, &pkt)?;
                seq = seq.wrapping_add(1);
            }
        }
    }
    out.flush()?;
    Ok(params)
}

fn rtp_header(pkt: &mut Vec<u8>, seq: u16, ts: u32, marker: bool) {
    pkt.clear();
    pkt.extend_from_slice(&[0x80, u8::from(marker) << 7 | 96]);
    pkt.extend_from_slice(&seq.to_be_bytes());
    pkt.extend_from_slice(&ts.to_be_bytes());
    pkt.extend_from_slice(&0x2650_2650u32.to_be_bytes());
}

fn sdp([vps, sps, pps]: &[Vec<u8>; 3]) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=camwire bench H.265\r\nt=0 0\r\n\
         a=control:*\r\na=range:npt=0-{SECS}\r\nm=video 0 RTP/AVP 96\r\nc=IN IP4 0.0.0.0\r\n\
         a=rtpmap:96 H265/90000\r\na=framerate:{FPS}\r\n\
         a=fmtp:96 sprop-vps={};sprop-sps={};sprop-pps={}\r\na=control:stream=0\r\n",
        base64(vps),
        base64(sps),
        base64(pps)
    )
}

fn base64(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = u32::from(c[0]) << 16
            | u32::from(c.get(1).copied().unwrap_or(0)) << 8
            | u32::from(c.get(2).copied().unwrap_or(0));
        for i in 0..4 {
            if i <= c.len() {
                s.push(char::from(ABC[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                s.push('=');
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_pads() {
        assert_eq!(super::base64(b"M"), "TQ==");
        assert_eq!(super::base64(b"Ma"), "TWE=");
        assert_eq!(super::base64(b"Man"), "TWFu");
    }
}

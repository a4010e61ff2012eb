//! Video + audio fMP4 checked by other people's readers: the committed H.264 test clip muxed
//! with AAC (ffmpeg-encoded ADTS, headers stripped), PCMU or PCMA frames (ffmpeg-encoded raw
//! G.711 cut into 20 ms RTP-sized packets) by camwire's `fmp4` writer. ffprobe must be silent
//! and see both streams; `ffmpeg -c copy -f framemd5` must return every audio frame we put in,
//! byte for byte, at the decode time we gave it (also after a hole from lost packets);
//! GStreamer's qtdemux must read the file; and our own reader (scan_fragments,
//! read_track_samples, read_sample) must give the same bytes, times and losses back.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bytes::Bytes;
use camwire::fmp4::{
    AudioCodec, AudioConfig, FragmentBuilder, VideoConfig, VideoTrack, audio_track_id,
    read_fragment_samples, read_init, read_sample, read_track_samples, scan_fragments,
    write_av_init,
};
use camwire::frame::{AccessUnit, NalRef};
use camwire::h264::annexb::nal_ranges;
use camwire::rtp::audio::AudioFrame;
use md5::{Digest, Md5};

const FRAME_TICKS: i64 = 3600; // 90 kHz at 25 fps
const FRAGMENT_FRAMES: usize = 25;
const FRAMES: usize = 250; // 10 s

fn clip_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/sim_clip.h264")
}

fn tmp(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

/// The clip as access units (pieces are slices of one buffer) plus its avcC.
fn access_units() -> (Vec<AccessUnit>, Vec<u8>) {
    let data = Bytes::from(std::fs::read(clip_path()).expect("read clip"));
    let mut aus = Vec::new();
    let mut cur = AccessUnit::default();
    let (mut sps, mut pps) = (None, None);
    for r in nal_ranges(&data) {
        let nal = data.slice(r);
        let header = nal[0];
        match header & 0x1f {
            7 => sps = sps.or(Some(nal.clone())),
            8 => pps = pps.or(Some(nal.clone())),
            _ => {}
        }
        let piece = cur.pieces.len() as u32;
        cur.nals.push(NalRef {
            header,
            len: nal.len() as u32,
            pieces: piece..piece + 1,
        });
        cur.pieces.push(nal);
        if matches!(header & 0x1f, 1 | 5) {
            cur.keyframe = header & 0x1f == 5;
            aus.push(std::mem::take(&mut cur));
        }
    }
    let (sps, pps) = (sps.expect("SPS"), pps.expect("PPS"));
    let mut avcc = vec![1, sps[1], sps[2], sps[3], 0xff, 0xe1];
    avcc.extend_from_slice(&(sps.len() as u16).to_be_bytes());
    avcc.extend_from_slice(&sps);
    avcc.push(1);
    avcc.extend_from_slice(&(pps.len() as u16).to_be_bytes());
    avcc.extend_from_slice(&pps);
    assert_eq!(aus.len(), FRAMES);
    (aus, avcc)
}

fn run(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd} could not run: {e}"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// One audio frame of the input: its bytes and decode time (track timescale).
struct Input {
    config: AudioConfig,
    /// (decode time, samples, lost packets before it, bytes).
    frames: Vec<(u64, u32, u32, Bytes)>,
}

/// 10 s of a 440 Hz sine encoded by ffmpeg with `codec_args`, as a raw file.
fn ffmpeg_encode(name: &str, rate: u32, codec_args: &[&str]) -> Bytes {
    let path = tmp(name);
    let src = format!("sine=frequency=440:sample_rate={rate}:duration=10");
    let mut args = vec!["-v", "error", "-y", "-f", "lavfi", "-i", &src];
    args.extend_from_slice(codec_args);
    args.push(path.to_str().expect("utf-8 path"));
    let out = run("ffmpeg", &args);
    assert!(out.status.success(), "ffmpeg encode: {}", text(&out.stderr));
    Bytes::from(std::fs::read(&path).expect("encoded audio"))
}

/// AAC-LC 16 kHz mono from ffmpeg's ADTS output: raw access units (7- or 9-byte ADTS headers
/// stripped, as an RTP depacketizer would deliver them) and the AudioSpecificConfig built from
/// the first header.
fn aac_input() -> Input {
    let adts = ffmpeg_encode(
        "audio_in.aac",
        16_000,
        &["-c:a", "aac", "-b:a", "32k", "-f", "adts"],
    );
    let mut frames = Vec::new();
    let mut asc = None;
    let mut at = 0usize;
    while at + 7 <= adts.len() {
        let h = &adts[at..at + 7];
        assert_eq!((h[0], h[1] & 0xf0), (0xff, 0xf0), "ADTS sync at {at}");
        let protection_absent = h[1] & 1 == 1;
        let profile = h[2] >> 6; // AOT - 1
        let sf_index = (h[2] >> 2) & 0xf;
        let channels = ((h[2] & 1) << 2) | (h[3] >> 6);
        let len =
            ((usize::from(h[3]) & 3) << 11) | (usize::from(h[4]) << 3) | (usize::from(h[5]) >> 5);
        let header = if protection_absent { 7 } else { 9 };
        assert!(len > header && at + len <= adts.len(), "ADTS frame at {at}");
        asc.get_or_insert_with(|| {
            let aot = profile + 1;
            vec![
                (aot << 3) | (sf_index >> 1),
                ((sf_index & 1) << 7) | (channels << 3),
            ]
        });
        let n = frames.len() as u64;
        frames.push((n * 1024, 1024, 0, adts.slice(at + header..at + len)));
        at += len;
    }
    assert_eq!(at, adts.len(), "ADTS ends on a frame boundary");
    // The encoder adds priming and padding frames past 10 s; keep the video's 10 s.
    frames.retain(|f| f.0 < 160_000);
    let config = asc.expect("at least one ADTS frame");
    assert_eq!(config, [0x14, 0x08], "AAC-LC, 16 kHz, mono");
    Input {
        config: AudioConfig {
            codec: AudioCodec::Aac,
            timescale: 16_000,
            sample_rate: 16_000,
            channels: 1,
            config,
        },
        frames,
    }
}

/// G.711 8 kHz mono cut into 160-byte (20 ms) packets; the packets in `lost` are left out and
/// the next one carries the loss count, as the depacketizer reports it.
fn g711_input(codec: AudioCodec, lost: &[usize]) -> Input {
    let (name, fmt) = match codec {
        AudioCodec::Pcmu => ("audio_in.ul", ["-c:a", "pcm_mulaw", "-f", "mulaw"]),
        AudioCodec::Pcma => ("audio_in.al", ["-c:a", "pcm_alaw", "-f", "alaw"]),
        AudioCodec::Aac => unreachable!(),
    };
    let raw = ffmpeg_encode(name, 8000, &fmt);
    assert_eq!(raw.len(), 80_000);
    let mut frames = Vec::new();
    let mut loss = 0;
    for (i, start) in (0..raw.len()).step_by(160).enumerate() {
        if lost.contains(&i) {
            loss += 1;
            continue;
        }
        let end = (start + 160).min(raw.len());
        frames.push((
            start as u64,
            (end - start) as u32,
            loss,
            raw.slice(start..end),
        ));
        loss = 0;
    }
    Input {
        config: AudioConfig {
            codec,
            timescale: 8000,
            sample_rate: 8000,
            channels: 1,
            config: Vec::new(),
        },
        frames,
    }
}

/// Muxes the clip and `input` into `path` the way a recorder does: audio frames are pushed as
/// their time comes, fragments cut every second of video carry the audio pushed so far.
fn write_av(path: &Path, input: &Input) {
    let (aus, avcc) = access_units();
    let video: VideoConfig = VideoTrack {
        width: 640,
        height: 360,
        timescale: 90_000,
        avcc,
    }
    .into();
    let mut file = File::create(path).expect("create");
    let mut init = Vec::new();
    write_av_init(&video, std::slice::from_ref(&input.config), &mut init);
    std::io::Write::write_all(&mut file, &init).expect("init");

    let mut b = FragmentBuilder::new();
    b.set_audio_tracks(1);
    let ts = u64::from(input.config.timescale);
    let mut audio = input.frames.iter().peekable();
    let mut frame = AudioFrame::default();
    let mut fragments = 0;
    for (i, mut au) in aus.into_iter().enumerate() {
        let dts = i as i64 * FRAME_TICKS;
        if !b.is_empty() && b.len() == FRAGMENT_FRAMES {
            let audio_waiting = b.audio_len(0);
            assert!(audio_waiting > 0);
            b.write_to(&mut file, Some(dts), None).expect("fragment");
            assert_eq!(b.audio_len(0), 0, "audio went out with the video");
            fragments += 1;
        }
        b.push(&mut au, dts, dts);
        // Audio up to the end of this video frame (receive order is roughly interleaved).
        let until = (i as u64 + 1) * ts / 25;
        while let Some((t, samples, loss, bytes)) = audio.next_if(|f| f.0 < until) {
            frame.timestamp = *t as i64;
            frame.samples = *samples;
            frame.loss = *loss;
            frame.pieces.push(bytes.clone());
            b.push_audio(0, &mut frame, *t);
            assert!(frame.pieces.is_empty(), "push_audio moves the pieces out");
        }
    }
    assert!(audio.next().is_none());
    b.write_to(&mut file, Some(FRAMES as i64 * FRAME_TICKS), None)
        .expect("last fragment");
    assert_eq!(fragments + 1, FRAMES / FRAGMENT_FRAMES);
    file.sync_all().expect("sync");
}

fn md5_hex(b: &[u8]) -> String {
    Md5::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

/// `ffmpeg -map 0:a -c copy -f framemd5` of `p`: (dts, duration, size, md5) per packet.
fn audio_packets(p: &str) -> Vec<(u64, u64, usize, String)> {
    let out = run(
        "ffmpeg",
        &[
            "-v", "error", "-i", p, "-map", "0:a", "-c", "copy", "-f", "framemd5", "-",
        ],
    );
    assert!(out.status.success(), "framemd5: {}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "", "ffmpeg -c copy complained");
    text(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').map(str::trim).collect();
            assert_eq!(f.len(), 6, "framemd5 line {l}");
            (
                f[1].parse().expect("dts"),
                f[3].parse().expect("duration"),
                f[4].parse().expect("size"),
                f[5].to_owned(),
            )
        })
        .collect()
}

/// ffprobe of stream `sel`: key=value lines.
fn probe(p: &str, sel: &str, entries: &str) -> Vec<(String, String)> {
    let out = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-select_streams",
            sel,
            "-show_entries",
            entries,
            "-of",
            "default=noprint_wrappers=1",
            p,
        ],
    );
    assert!(out.status.success());
    assert_eq!(text(&out.stderr), "", "ffprobe complained");
    text(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn field<'a>(info: &'a [(String, String)], k: &str) -> &'a str {
    info.iter()
        .find(|(key, _)| key == k)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {k} in {info:?}"))
}

/// The whole check for one audio input.
fn check(name: &str, input: &Input, ffmpeg_codec: &str, gst_caps: &str) {
    let path = tmp(name);
    write_av(&path, input);
    let p = path.to_str().expect("utf-8 path");
    let ts = u64::from(input.config.timescale);

    let v = probe(p, "v:0", "stream=codec_name,width,height,duration");
    assert_eq!(field(&v, "codec_name"), "h264");
    assert_eq!((field(&v, "width"), field(&v, "height")), ("640", "360"));
    let a = probe(
        p,
        "a:0",
        "stream=index,codec_name,sample_rate,channels,duration,nb_frames",
    );
    assert_eq!(field(&a, "index"), "1", "audio is the second stream");
    assert_eq!(field(&a, "codec_name"), ffmpeg_codec);
    assert_eq!(field(&a, "sample_rate"), ts.to_string());
    assert_eq!(field(&a, "channels"), "1");
    let last = input.frames.last().expect("frames");
    let end = last.0 + u64::from(last.1);
    let duration: f64 = field(&a, "duration").parse().expect("duration");
    assert!(
        (duration - end as f64 / ts as f64).abs() < 1e-6,
        "audio duration {duration}, want {}",
        end as f64 / ts as f64
    );

    // Every audio packet is an input frame, byte for byte, at its own decode time.
    let packets = audio_packets(p);
    assert_eq!(packets.len(), input.frames.len(), "audio packets");
    for (i, (pkt, f)) in packets.iter().zip(&input.frames).enumerate() {
        assert_eq!(pkt.0, f.0, "packet {i} dts");
        assert_eq!(pkt.2, f.3.len(), "packet {i} size");
        assert_eq!(pkt.3, md5_hex(&f.3), "packet {i} bytes");
    }
    println!(
        "{name}: {} audio packets equal the input, {duration} s",
        packets.len()
    );

    // ffmpeg decodes both streams without a word.
    let out = run("ffmpeg", &["-v", "error", "-i", p, "-f", "null", "-"]);
    assert!(out.status.success());
    assert_eq!(text(&out.stderr), "", "ffmpeg decode complained");

    gstreamer_reads(p, gst_caps, input);
    own_reader_round_trip(&path, input);
    let _ = std::fs::remove_file(&path);
}

/// GStreamer's qtdemux: gst-discoverer sees both streams, and the audio pad of a
/// `qtdemux ! fakesink` pipeline carries as many buffers as we wrote, with their sizes.
fn gstreamer_reads(p: &str, caps: &str, input: &Input) {
    let Ok(out) = Command::new("gst-discoverer-1.0").arg(p).output() else {
        println!("note: no gst-discoverer-1.0; GStreamer check skipped");
        return;
    };
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "gst-discoverer: {stdout}{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("H.264"), "gst-discoverer: {stdout}");
    assert!(stdout.contains("audio"), "gst-discoverer: {stdout}");

    let pipeline = format!(
        "filesrc location={p} ! qtdemux name=d d.audio_0 ! {caps} ! identity silent=false ! \
         fakesink sync=false"
    );
    let out = Command::new("gst-launch-1.0")
        .arg("-v")
        .args(pipeline.split_whitespace())
        .output()
        .expect("gst-launch-1.0 runs where gst-discoverer-1.0 does");
    check_gst(out, input)
}

/// The identity lines of a `gst-launch-1.0 -v` run: each audio buffer's size and pts must be
/// an input frame's (nanoseconds, from the track's timescale).
fn check_gst(out: Output, input: &Input) {
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "gst-launch: {stdout}{}",
        text(&out.stderr)
    );
    // "... chain   ******* (identity0:sink) (160 bytes, dts: 0:00:00.000000000, pts: 0:00:..."
    let buffers: Vec<(usize, u64)> = stdout
        .lines()
        .filter(|l| l.contains("identity0: last-message = chain"))
        .filter_map(|l| {
            let (before, after) = l.split_once(" bytes,")?;
            let size = before.rsplit('(').next()?.parse().ok()?;
            let pts = after.split_once("pts: ")?.1.split(',').next()?;
            let mut parts = pts.split(':');
            let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
            let (secs, nanos) = s.split_once('.')?;
            let ns = (h.parse::<u64>().ok()? * 3600
                + m.parse::<u64>().ok()? * 60
                + secs.parse::<u64>().ok()?)
                * 1_000_000_000
                + nanos.parse::<u64>().ok()?;
            Some((size, ns))
        })
        .collect();
    let ts = u64::from(input.config.timescale);
    let want: Vec<(usize, u64)> = input
        .frames
        .iter()
        .map(|f| (f.3.len(), f.0 * 1_000_000_000 / ts))
        .collect();
    assert_eq!(buffers.len(), want.len(), "buffers through qtdemux");
    for (i, (got, want)) in buffers.iter().zip(&want).enumerate() {
        assert_eq!(got.0, want.0, "qtdemux buffer {i} size");
        // GStreamer rounds the timescale conversion: allow 1 µs.
        assert!(
            got.1.abs_diff(want.1) <= 1000,
            "qtdemux buffer {i} pts {} want {}",
            got.1,
            want.1
        );
    }
}

/// Our reader: the audio track's samples, read back, are the input frames.
fn own_reader_round_trip(path: &Path, input: &Input) {
    let mut f = File::open(path).expect("open");
    let video = read_init(&mut f).expect("video init still readable");
    assert_eq!((video.width, video.height), (640, 360));
    let scan = scan_fragments(&mut f).expect("scan");
    assert!(scan.tail_error.is_none() && !scan.is_torn());
    assert_eq!(scan.fragments.len(), FRAMES / FRAGMENT_FRAMES);
    assert_eq!(scan.duration(), FRAMES as u64 * FRAME_TICKS as u64);
    let mut n = 0;
    for frag in &scan.fragments {
        let v = read_fragment_samples(&mut f, frag, &scan.defaults).expect("video samples");
        assert_eq!(v.len(), FRAGMENT_FRAMES);
        n += v.len();
    }
    assert_eq!(n, FRAMES);

    assert_eq!(scan.audio.len(), 1);
    let track = &scan.audio[0];
    assert_eq!(track.track_id, audio_track_id(0));
    assert_eq!(
        track.config, input.config,
        "the init segment's audio config reads back"
    );
    let mut back = Vec::new();
    let mut buf = Vec::new();
    for frag in &scan.fragments {
        let t = read_track_samples(&mut f, frag, track.track_id, &track.defaults).expect("audio");
        assert_eq!(frag.audio.len(), 1);
        assert_eq!(frag.audio[0].sample_count as usize, t.len());
        for s in t {
            read_sample(&mut f, &s, &mut buf).expect("audio bytes");
            back.push((s.decode_time, s.lost_packets, buf.clone()));
        }
    }
    assert_eq!(back.len(), input.frames.len());
    for (i, (b, f)) in back.iter().zip(&input.frames).enumerate() {
        assert_eq!(
            (b.0, b.1, &b.2[..]),
            (f.0, f.2, &f.3[..]),
            "audio frame {i} read back"
        );
    }
}

#[test]
fn aac_with_h264_plays_in_ffmpeg_and_gstreamer() {
    let input = aac_input();
    check("fmp4_av_aac.mp4", &input, "aac", "audio/mpeg");
}

#[test]
fn pcmu_with_h264_plays_in_ffmpeg_and_gstreamer() {
    let input = g711_input(AudioCodec::Pcmu, &[]);
    check("fmp4_av_pcmu.mp4", &input, "pcm_mulaw", "audio/x-mulaw");
}

#[test]
fn pcma_with_lost_packets_keeps_later_audio_in_place() {
    // Packets 100 and 101 lost (2 s in), and 333: the frames after them stay at their time.
    let input = g711_input(AudioCodec::Pcma, &[100, 101, 333]);
    assert_eq!(input.frames.len(), 497);
    check("fmp4_av_pcma.mp4", &input, "pcm_alaw", "audio/x-alaw");
}

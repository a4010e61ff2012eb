//! The fMP4 writer checked by other people's readers: the committed test clip is muxed with
//! camwire's `fmp4` module, then ffprobe, ffmpeg (decode every frame, compare frame hashes
//! with the Annex B source) and GStreamer's qtdemux must all accept it, and our own reader
//! must find the fragments we wrote.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bytes::Bytes;
use camwire::fmp4::{
    FragmentBuilder, VideoTrack, read_fragment_samples, read_init, read_sample, scan_fragments,
    write_init_segment,
};
use camwire::frame::{AccessUnit, NalRef};
use camwire::h264::annexb::nal_ranges;

const FRAME_TICKS: i64 = 3600; // 90 kHz at 25 fps
const FRAGMENT_FRAMES: usize = 25;

fn clip_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/sim_clip.h264")
}

/// The clip as access units (pieces are slices of one buffer) plus its SPS and PPS.
fn access_units(data: &Bytes) -> (Vec<AccessUnit>, Bytes, Bytes) {
    let mut aus = Vec::new();
    let mut cur = AccessUnit::default();
    let (mut sps, mut pps) = (None, None);
    for r in nal_ranges(data) {
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
            cur.timestamp = aus.len() as i64 * FRAME_TICKS;
            aus.push(std::mem::take(&mut cur));
        }
    }
    (
        aus,
        sps.expect("clip has an SPS"),
        pps.expect("clip has a PPS"),
    )
}

/// AVCDecoderConfigurationRecord with one SPS and one PPS (test-local; the crate's own lives
/// in `h264`).
fn avcc(sps: &[u8], pps: &[u8]) -> Vec<u8> {
    let mut v = vec![1, sps[1], sps[2], sps[3], 0xff, 0xe1];
    v.extend_from_slice(&(sps.len() as u16).to_be_bytes());
    v.extend_from_slice(sps);
    v.push(1);
    v.extend_from_slice(&(pps.len() as u16).to_be_bytes());
    v.extend_from_slice(pps);
    v
}

/// Muxes the clip into `path`; returns the frame indexes where fragments start and which
/// frames are keyframes.
fn write_clip(path: &Path) -> (Vec<usize>, Vec<bool>) {
    let data = Bytes::from(std::fs::read(clip_path()).expect("read clip"));
    let (aus, sps, pps) = access_units(&data);
    assert_eq!(aus.len(), 250);
    assert!(aus[0].keyframe);
    let keyframes: Vec<bool> = aus.iter().map(|a| a.keyframe).collect();

    let track = VideoTrack {
        width: 640,
        height: 360,
        timescale: 90_000,
        avcc: avcc(&sps, &pps),
    };
    let mut file = File::create(path).expect("create");
    let mut init = Vec::new();
    write_init_segment(&track, &mut init);
    std::io::Write::write_all(&mut file, &init).expect("init");

    let mut starts = Vec::new();
    let mut b = FragmentBuilder::new();
    let ntp0 = 3_913_056_000u64 << 32; // 2024-01-01T00:00:00Z as NTP
    let ntp_at = |i: usize| ntp0 + ((i as u64) << 32) / 25;
    let mut first_of_fragment = 0;
    for (i, mut au) in aus.into_iter().enumerate() {
        let dts = i as i64 * FRAME_TICKS;
        if !b.is_empty() && (b.len() == FRAGMENT_FRAMES || au.keyframe) {
            b.write_to(&mut file, Some(dts), Some(ntp_at(first_of_fragment)))
                .expect("fragment");
        }
        if b.is_empty() {
            first_of_fragment = i;
            starts.push(i);
        }
        b.push(&mut au, dts, dts);
    }
    b.write_to(
        &mut file,
        Some(250 * FRAME_TICKS),
        Some(ntp_at(first_of_fragment)),
    )
    .expect("last fragment");
    file.sync_all().expect("sync");
    (starts, keyframes)
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

/// The hash column of `ffmpeg -f framemd5` output.
fn frame_hashes(input: &Path) -> Vec<String> {
    let out = run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-i",
            input.to_str().expect("utf-8 path"),
            "-f",
            "framemd5",
            "-",
        ],
    );
    assert!(
        out.status.success(),
        "framemd5 of {input:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.rsplit(',').next().map(|h| h.trim().to_owned()))
        .collect()
}

#[test]
fn real_clip_plays_in_ffmpeg_gstreamer_and_scans_back() {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fmp4_ffprobe_sim_clip.mp4");
    let (starts, keyframes) = write_clip(&path);
    let p = path.to_str().expect("utf-8 path");

    // ffprobe: silent, 640x360, 250 decoded frames, 10 s.
    let out = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=codec_name,width,height,nb_read_frames:format=duration",
            "-of",
            "default=noprint_wrappers=1",
            p,
        ],
    );
    assert!(out.status.success());
    assert_eq!(text(&out.stderr), "", "ffprobe complained");
    let info = text(&out.stdout);
    let field = |k: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("no {k} in {info}"))
            .to_owned()
    };
    assert_eq!(field("codec_name"), "h264");
    assert_eq!(
        (field("width"), field("height")),
        ("640".into(), "360".into())
    );
    assert_eq!(field("nb_read_frames"), "250");
    let duration: f64 = field("duration").parse().expect("duration");
    assert!((duration - 10.0).abs() < 1e-3, "duration {duration}");

    // ffmpeg decodes every frame without a word.
    let out = run("ffmpeg", &["-v", "error", "-i", p, "-f", "null", "-"]);
    assert!(out.status.success());
    assert_eq!(text(&out.stderr), "", "ffmpeg decode complained");

    // The decoded pictures are the source's pictures.
    let ours = frame_hashes(&path);
    let source = frame_hashes(&clip_path());
    assert_eq!(ours.len(), 250);
    assert_eq!(ours, source);

    gstreamer_reads(p);

    // Our reader finds what we wrote.
    let mut f = File::open(&path).expect("open");
    let track = read_init(&mut f).expect("init");
    assert_eq!(
        (track.width, track.height, track.timescale),
        (640, 360, 90_000)
    );
    let scan = scan_fragments(&mut f).expect("scan");
    assert!(scan.tail_error.is_none() && !scan.is_torn());
    assert_eq!(
        scan.valid_len,
        std::fs::metadata(&path).expect("stat").len()
    );
    assert_eq!(scan.fragments.len(), starts.len());
    println!("{} fragments starting at frames {starts:?}", starts.len());
    for (i, (frag, &start)) in scan.fragments.iter().zip(&starts).enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(250);
        assert_eq!(frag.sequence_number, i as u32 + 1);
        assert_eq!(frag.base_decode_time, start as u64 * 3600);
        assert_eq!(frag.sample_count as usize, end - start);
        assert_eq!(frag.duration, (end - start) as u64 * 3600);
        assert_eq!(frag.first_is_keyframe, keyframes[start]);
        assert_eq!(
            frag.ntp,
            Some((3_913_056_000u64 << 32) + ((start as u64) << 32) / 25)
        );
    }
    assert_eq!(scan.duration(), 250 * 3600);
    assert!(scan.fragments[0].first_is_keyframe);

    // Sample tables: keyframe flags follow the source, and sample bytes read back lazily.
    let mut buf = Vec::new();
    let mut n = 0;
    for frag in &scan.fragments {
        for s in read_fragment_samples(&mut f, frag, &scan.defaults).expect("samples") {
            assert_eq!(s.is_keyframe(), keyframes[n], "frame {n}");
            read_sample(&mut f, &s, &mut buf).expect("sample bytes");
            assert_eq!(buf.len(), s.size as usize);
            n += 1;
        }
    }
    assert_eq!(n, 250);
    let _ = std::fs::remove_file(&path);
}

/// GStreamer's qtdemux must read the file: gst-discoverer-1.0 when installed, else a
/// gst-launch-1.0 pipeline through qtdemux and the decoder; skipped with a note when neither
/// exists.
fn gstreamer_reads(p: &str) {
    if let Ok(out) = Command::new("gst-discoverer-1.0").arg(p).output() {
        let stdout = text(&out.stdout);
        assert!(
            out.status.success(),
            "gst-discoverer failed: {stdout}{}",
            text(&out.stderr)
        );
        assert!(stdout.contains("H.264"), "gst-discoverer: {stdout}");
        return;
    }
    let pipeline = format!(
        "filesrc location={p} ! qtdemux ! h264parse ! avdec_h264 ! \
         identity silent=false ! fakesink sync=false"
    );
    match Command::new("gst-launch-1.0")
        .arg("-v")
        .args(pipeline.split_whitespace())
        .output()
    {
        Ok(out) => {
            let stdout = text(&out.stdout);
            assert!(
                out.status.success(),
                "gst-launch failed: {stdout}{}",
                text(&out.stderr)
            );
            assert!(!stdout.contains("ERROR"), "gst-launch: {stdout}");
            let frames = stdout
                .lines()
                .filter(|l| l.contains("identity0: last-message = chain"))
                .count();
            assert_eq!(frames, 250, "frames through qtdemux and avdec_h264");
        }
        Err(_) => {
            println!("note: no gst-discoverer-1.0 or gst-launch-1.0; GStreamer check skipped")
        }
    }
}

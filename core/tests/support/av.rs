//! ffmpeg/ffprobe readings of clips with audio, for the A/V suites (recording, export,
//! export across file cuts, fetch off a device): what ffmpeg stores and decodes is the
//! witness, not our own readers.

use std::path::Path;
use std::process::Command;

/// Runs `cmd`; it must succeed and print nothing on stderr. Its stdout.
pub fn run_silent(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().expect("run tool");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// framemd5 lines of `map` (decoded, or stored with `-c copy` when `copy`), edit lists
/// applied unless `ignore_editlist`: (pts seconds, md5).
pub fn framemd5(input: &Path, map: &str, copy: bool, ignore_editlist: bool) -> Vec<(f64, String)> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-v", "error"]);
    if ignore_editlist {
        cmd.args(["-ignore_editlist", "1"]);
    }
    cmd.arg("-i").arg(input).args(["-map", map]);
    if copy {
        cmd.args(["-c", "copy"]);
    }
    let text = String::from_utf8(run_silent(cmd.args(["-f", "framemd5", "-"]))).unwrap();
    let tb = text
        .lines()
        .find_map(|l| l.strip_prefix("#tb 0: 1/"))
        .and_then(|d| d.trim().parse::<f64>().ok())
        .expect("time base");
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').map(str::trim).collect();
            Some((f.get(2)?.parse::<f64>().ok()? / tb, f.get(5)?.to_string()))
        })
        .collect()
}

/// The first audio stream's stored bytes in storage order (`-c copy -f format`: `mulaw`,
/// `alaw`; G.711 is one byte per sample).
pub fn audio_bytes(input: &Path, format: &str, ignore_editlist: bool) -> Vec<u8> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-v", "error"]);
    if ignore_editlist {
        cmd.args(["-ignore_editlist", "1"]);
    }
    cmd.arg("-i")
        .arg(input)
        .args(["-map", "0:a:0", "-c", "copy", "-f", format, "-"]);
    run_silent(&mut cmd)
}

/// [`audio_bytes`] of a µ-law track.
pub fn mulaw_bytes(input: &Path, ignore_editlist: bool) -> Vec<u8> {
    audio_bytes(input, "mulaw", ignore_editlist)
}

/// Codec names of the streams; ffprobe must print nothing on stderr.
pub fn codecs(f: &Path) -> Vec<String> {
    let text = String::from_utf8(run_silent(
        Command::new("ffprobe")
            .args(["-v", "error", "-show_entries", "stream=codec_name"])
            .args(["-of", "csv=p=0"])
            .arg(f),
    ))
    .unwrap();
    text.lines().map(|l| l.trim().to_string()).collect()
}

/// The longest stored audio packet, in seconds (an AAC frame is 64 ms at 16 kHz; GStreamer's
/// PCMU payloader sends 1024-byte packets, 128 ms).
pub fn longest_audio_packet(f: &Path) -> f64 {
    let text = String::from_utf8(run_silent(
        Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-ignore_editlist",
                "1",
                "-select_streams",
                "a",
            ])
            .args(["-show_entries", "packet=duration_time", "-of", "csv=p=0"])
            .arg(f),
    ))
    .unwrap();
    text.lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse::<f64>().ok())
        .fold(0.0, f64::max)
}

/// Where `needle` starts in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

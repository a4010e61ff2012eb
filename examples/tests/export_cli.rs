//! `camwire ls`, `camwire export` and `camwire verify` as a user runs them, on recordings of
//! the built-in simulated camera made with `camwire record`.

mod support;
use camwire::sim::{SimCamera, SimOptions};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};
use support::*;

fn ts(s: &str) -> SystemTime {
    SystemTime::from(s.parse::<jiff::Timestamp>().expect("rfc3339"))
}

fn fmt(t: SystemTime) -> String {
    jiff::Timestamp::try_from(t).expect("ts").to_string()
}

fn ffprobe_duration(f: &Path) -> f64 {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args(["stream=duration", "-of", "csv=p=0"])
        .arg(f)
        .output()
        .expect("ffprobe");
    assert_ok(&out, "ffprobe duration");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("duration")
}

fn flip(f: &Path, at: usize) {
    let mut b = std::fs::read(f).expect("read");
    b[at] ^= 1;
    std::fs::write(f, b).expect("write");
}

fn ls_json(root: &Path) -> serde_json::Value {
    let r = camwire(&["ls", "--root", root.to_str().unwrap(), "--json"]);
    assert_ok(&r, "camwire ls --json");
    serde_json::from_slice(&r.stdout).expect("json")
}

#[test]
fn record_ls_export_verify_with_the_cli() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt
        .block_on(SimCamera::start(SimOptions::default()))
        .unwrap();
    let root = tmpdir("export-cli");
    let roots = root.to_str().unwrap();
    let rec = |secs: &str| {
        let r = camwire(&[
            "record",
            "--url",
            &sim.rtsp_url(),
            "--out",
            roots,
            "--camera-id",
            "sim",
            "--duration",
            secs,
            "--segment-secs",
            "4",
        ]);
        assert_ok(&r, "camwire record");
    };
    rec("14");

    let v = ls_json(&root);
    let cam = &v["cameras"][0];
    assert_eq!(cam["camera"], "sim");
    assert_eq!(cam["ranges"].as_array().unwrap().len(), 1, "{v}");
    assert!(cam["gaps"].as_array().unwrap().is_empty(), "{v}");
    let s = ts(cam["ranges"][0]["start"].as_str().unwrap());
    let dur = cam["ranges"][0]["duration_secs"].as_f64().unwrap();
    assert!(dur > 11.0, "{v}");

    // T1 20 ms into recorded frame 75, T2 = 11.5 s in: spans at least three 4-s files.
    let t1 = s + Duration::from_millis(3020);
    let t2 = s + Duration::from_millis(11_500);
    let out = tmpdir("export-cli-out");
    let clip = out.join("clip.mp4");
    let r = camwire(&[
        "export",
        "--root",
        roots,
        "--camera",
        "sim",
        "--start",
        &fmt(t1),
        "--end",
        &fmt(t2),
        "--out",
        clip.to_str().unwrap(),
    ]);
    assert_ok(&r, "camwire export");
    // After the summary, one line per track of the manifest: the video alone here.
    let text = String::from_utf8_lossy(&r.stdout);
    let tracks: Vec<&str> = text.lines().filter(|l| l.starts_with("track ")).collect();
    assert_eq!(tracks.len(), 1, "{text}");
    assert!(
        tracks[0].starts_with("track 1 video H.264 ")
            && tracks[0].contains(" samples ")
            && tracks[0].contains(" .. "),
        "{text}"
    );
    assert_decodes_cleanly(&clip);
    assert_ffprobe_clean(&clip);
    assert_gst_reads(&clip);
    let d = ffprobe_duration(&clip);
    assert!((d - 8.48).abs() <= 0.040 + 1e-6, "duration {d}");

    // First displayed frame = the recording's frame at T1 (index 75), and all that follow.
    let recorded = framemd5(&mp4_files(&root.join("sim")));
    let got = framemd5(std::slice::from_ref(&clip));
    assert_eq!(got[0], recorded[75], "first frame is the one at T1");
    assert_eq!(got[..], recorded[75..75 + got.len()]);
    assert_eq!(got.len(), 213);

    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join("clip.mp4.manifest.json")).expect("manifest"),
    )
    .expect("json");
    let samples = manifest["samples"].as_u64().unwrap();
    assert!(
        tracks[0].starts_with(&format!("track 1 video H.264 {samples} samples ")),
        "{text}"
    );
    let sources = manifest["sources"].as_array().unwrap();
    assert!(sources.len() >= 3, "{manifest}");
    assert_eq!(manifest["camera_id"], "sim");
    assert_eq!(manifest["requested"]["start"], fmt(t1));

    let clip_s = clip.to_str().unwrap();
    let r = camwire(&["verify", clip_s]);
    assert_ok(&r, "camwire verify");
    assert!(String::from_utf8_lossy(&r.stdout).starts_with("OK "));

    let src_rel = sources[1]["path"].as_str().unwrap();
    let src = root.join(src_rel);
    let used = &sources[1]["bytes_used"];
    let at = ((used[0].as_u64().unwrap() + used[1].as_u64().unwrap()) / 2) as usize;
    flip(&src, at);
    let r = camwire(&["verify", clip_s]);
    assert_eq!(r.status.code(), Some(1));
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(
        text.contains(&format!("MISMATCH source {src_rel}")),
        "{text}"
    );
    flip(&src, at);
    assert_ok(&camwire(&["verify", clip_s]), "verify after restoring");

    let len = std::fs::metadata(&clip).unwrap().len() as usize;
    flip(&clip, len - 10);
    let r = camwire(&["verify", clip_s]);
    assert_eq!(r.status.code(), Some(1));
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(
        text.contains("MISMATCH clip") && text.contains("clip.mp4"),
        "{text}"
    );
    assert!(!text.contains("MISMATCH source"), "{text}");

    // Bad inputs: clear errors, exit 1, no panic.
    for (args, want) in [
        (
            vec!["--start", &fmt(t2), "--end", &fmt(t1)],
            "is not before",
        ),
        (
            vec![
                "--start",
                "2001-01-01T00:00:00Z",
                "--end",
                "2001-01-01T00:01:00Z",
            ],
            "no recording",
        ),
        (vec!["--start", "yesterday", "--end", "today"], "RFC 3339"),
    ] {
        let mut a = vec!["export", "--root", roots, "--camera", "sim", "--out"];
        let o = out.join("bad.mp4");
        a.push(o.to_str().unwrap());
        a.extend(args.iter().copied());
        let r = camwire(&a);
        assert_eq!(r.status.code(), Some(1));
        let e = String::from_utf8_lossy(&r.stderr);
        assert!(e.contains(want) && !e.contains("panicked"), "{e}");
    }
    let r = camwire(&[
        "export",
        "--root",
        roots,
        "--camera",
        "../sim",
        "--start",
        &fmt(t1),
        "--end",
        &fmt(t2),
        "--out",
        "/tmp/x.mp4",
    ]);
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("invalid camera id"));

    // A pause, then a second recording: ls shows the gap between them.
    std::thread::sleep(Duration::from_secs(3));
    rec("4");
    let v = ls_json(&root);
    let cam = &v["cameras"][0];
    let ranges = cam["ranges"].as_array().unwrap();
    let gaps = cam["gaps"].as_array().unwrap();
    assert_eq!((ranges.len(), gaps.len()), (2, 1), "{v}");
    assert_eq!(gaps[0]["start"], ranges[0]["end"]);
    assert_eq!(gaps[0]["end"], ranges[1]["start"]);
    let g = gaps[0]["duration_secs"].as_f64().unwrap();
    assert!((2.5..10.0).contains(&g), "{v}");
    let r = camwire(&["ls", "--root", roots, "--camera", "sim"]);
    assert_ok(&r, "camwire ls");
    assert!(String::from_utf8_lossy(&r.stdout).contains("  gap "));
    rt.block_on(sim.shutdown());
}

//! `camwire recordings` and `camwire fetch --xaddr` against the sim camera's Profile G face
//! (the built-in recording: the last 2 hours, a 60 s gap an hour in; see
//! `camwire::sim::SimRecording` for which frame is at which time).
//!
//! - `recordings --start --end --json` over a window around the gap lists the sim's one
//!   recording with two ranges and the gap exactly where the sim says.
//! - `fetch --xaddr` (no `--recording`: the one recording covering the range is taken) of a
//!   window across the gap: the manifest lists the gap, the decoded frames are the sim
//!   clip's frames for those times, `camwire verify` passes and fails once a byte of the
//!   media is flipped. The password is printed nowhere.

mod support;

use std::time::{Duration, SystemTime};

use camwire::sim::{RECORDING_TOKEN, SimCamera, SimOnvifOptions, SimOptions};
use support::{assert_decodes_cleanly, assert_ok, camwire, framemd5, tmpdir};

const PASS: &str = "pw-n0t-printed";

fn show(t: SystemTime) -> String {
    jiff::Timestamp::try_from(t).expect("time").to_string()
}

fn nanos(t: SystemTime) -> i64 {
    i64::try_from(
        t.duration_since(SystemTime::UNIX_EPOCH)
            .expect("after 1970")
            .as_nanos(),
    )
    .expect("fits")
}

#[test]
fn recordings_and_fetch_by_xaddr_against_the_sim() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let sim = rt
        .block_on(SimCamera::start(SimOptions {
            credentials: Some(("investigator".into(), PASS.into())),
            onvif: Some(SimOnvifOptions {
                multicast: None,
                ..Default::default()
            }),
            ..Default::default()
        }))
        .expect("sim");
    let xaddr = sim.xaddr().expect("xaddr");
    let rec = sim.recording().expect("recording");
    let (g0, g1) = rec.gap.expect("gap");
    let login = ["--user", "investigator", "--password", PASS];

    let (w0, w1) = (
        show(g0 - Duration::from_secs(120)),
        show(g1 + Duration::from_secs(120)),
    );
    let mut args = vec!["recordings", "--xaddr", &xaddr];
    args.extend(["--start", &w0, "--end", &w1, "--json"]);
    args.extend(login);
    let o = camwire(&args);
    assert_ok(&o, "camwire recordings");
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let recs = doc["recordings"].as_array().expect("recordings");
    assert_eq!(recs.len(), 1, "{doc}");
    let r = &recs[0];
    assert_eq!(r["token"], RECORDING_TOKEN);
    assert_eq!(r["earliest"], show(rec.start).as_str());
    assert_eq!(r["tracks"][0]["type"], "Video");
    let span = |v: &serde_json::Value| {
        (
            v["start"].as_str().unwrap_or_default().to_string(),
            v["end"].as_str().unwrap_or_default().to_string(),
        )
    };
    let ranges: Vec<_> = r["ranges"]
        .as_array()
        .expect("ranges")
        .iter()
        .map(span)
        .collect();
    let gaps: Vec<_> = r["gaps"]
        .as_array()
        .expect("gaps")
        .iter()
        .map(span)
        .collect();
    assert_eq!(
        ranges,
        [(w0.clone(), show(g0)), (show(g1), w1.clone())],
        "{doc}"
    );
    assert_eq!(gaps, [(show(g0), show(g1))]);

    // fetch across the gap: 2 s before it (a keyframe) .. 2 s after it.
    let dir = tmpdir("sim-profile-g-cli");
    let out = dir.join("gap.mp4");
    let out_s = out.to_str().expect("utf-8 path");
    let (t1, t2) = (g0 - Duration::from_secs(2), g1 + Duration::from_secs(2));
    let (t1s, t2s) = (show(t1), show(t2));
    let mut args = vec!["fetch", "--xaddr", &xaddr, "--start", &t1s, "--end", &t2s];
    args.extend(["--out", out_s]);
    args.extend(login);
    let o = camwire(&args);
    assert_ok(&o, "camwire fetch --xaddr");
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(stdout.contains("Rate-Control: no;"), "{stdout}");
    assert_decodes_cleanly(&out);
    let clip =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/testdata/sim_clip.h264");
    let source = framemd5(&[clip]);
    assert_eq!(source.len(), 250);
    let frames = |a: SystemTime, b: SystemTime| {
        (nanos(a) / 40_000_000..nanos(b) / 40_000_000).map(|i| source[(i % 250) as usize].clone())
    };
    let want: Vec<String> = frames(t1, g0).chain(frames(g1, t2)).collect();
    let got = framemd5(std::slice::from_ref(&out));
    assert_eq!(got.len(), 100);
    assert!(
        got == want,
        "decoded frames differ from the sim clip's at those times"
    );
    let manifest = std::fs::read_to_string(dir.join("gap.mp4.manifest.json")).expect("manifest");
    let m: serde_json::Value = serde_json::from_str(&manifest).expect("json");
    assert_eq!(m["gaps"].as_array().map(Vec::len), Some(1), "{m}");
    assert_eq!(m["gaps"][0]["start"], show(g0).as_str());
    assert_eq!(m["gaps"][0]["end"], show(g1).as_str());
    assert_eq!(m["origin"]["device"]["recording_token"], RECORDING_TOKEN);
    for text in [&*stdout, &*stderr, &manifest] {
        assert!(!text.contains(PASS));
    }

    let o = camwire(&["verify", out_s]);
    assert_ok(&o, "camwire verify");
    let mut bytes = std::fs::read(&out).expect("read clip");
    let at = bytes.len() - 500;
    bytes[at] ^= 0x01;
    std::fs::write(&out, &bytes).expect("write clip");
    let o = camwire(&["verify", out_s]);
    let said = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{said}");
    assert!(said.contains("MISMATCH media of the clip"), "{said}");
    rt.block_on(sim.shutdown());
}

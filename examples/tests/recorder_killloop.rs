//! `kill -9` of `camwire record` at random moments, restarted each time on the same root:
//! after a final normal run (whose start recovers the last torn file) every file reads cleanly,
//! no file that held a complete fragment is lost, and each kill cost at most the fragment
//! being built. CI: 20 kills over ~40 s; `CAMWIRE_SOAK=1`: 100 kills.

mod support;
use camwire::fmp4::scan_fragments;
use camwire::record::clock::ntp_to_system_time;
use camwire::sim::{SimCamera, SimOptions};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};
use support::*;

const FRAGMENT_MS: u64 = 500;

/// A small xorshift: the kill moments differ per run, and the seed is printed to replay one.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn between(&mut self, lo: Duration, hi: Duration) -> Duration {
        let span = (hi - lo).as_micros() as u64;
        lo + Duration::from_micros(self.next() % span.max(1))
    }
}

/// (start, end) wall-clock of the complete fragments of `f`, and its frame count.
fn extent(f: &Path) -> Option<(SystemTime, SystemTime, u64)> {
    let mut file = std::fs::File::open(f).ok()?;
    let scan = scan_fragments(&mut file).ok()?;
    let first = scan.fragments.first()?;
    let last = scan.fragments.last()?;
    let timescale = scan.track.as_ref().map_or(90_000, |t| t.timescale);
    let start = ntp_to_system_time(first.ntp?);
    let end = ntp_to_system_time(last.ntp?)
        + Duration::from_secs_f64(last.duration as f64 / f64::from(timescale));
    let frames = scan
        .fragments
        .iter()
        .map(|f| u64::from(f.sample_count))
        .sum();
    Some((start, end, frames))
}

fn complete_files(dir: &Path) -> BTreeSet<PathBuf> {
    if !dir.exists() {
        return BTreeSet::new();
    }
    mp4_files(dir)
        .into_iter()
        .filter(|f| extent(f).is_some())
        .collect()
}

fn secs(a: SystemTime, b: SystemTime) -> f64 {
    match a.duration_since(b) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

#[test]
fn kill_9_at_random_moments_loses_at_most_a_fragment_per_kill() {
    let soak = std::env::var_os("CAMWIRE_SOAK").is_some();
    let kills = if soak { 100 } else { 20 };
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    println!("seed {seed}");
    let mut rng = Rng(seed);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt
        .block_on(SimCamera::start(SimOptions::default()))
        .unwrap();
    let url = sim.rtsp_url();
    let root = tmpdir("killloop");
    let cam_dir = root.join("k");
    let args = |extra: &[&str]| {
        let mut a: Vec<String> = [
            "record",
            "--url",
            &url,
            "--out",
            root.to_str().unwrap(),
            "--camera-id",
            "k",
            "--segment-secs",
            "2",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.push("--fragment-ms".into());
        a.push(FRAGMENT_MS.to_string());
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };

    let mut runs = Vec::new(); // (started, killed)
    let mut ever_complete = BTreeSet::new();
    for i in 0..kills {
        // Alternate fsync policies: kill -9 keeps the page cache, so both must hold.
        let fsync = if i % 2 == 0 { "fragment" } else { "never" };
        let started = SystemTime::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_camwire"))
            .args(args(&["--fsync", fsync]))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(rng.between(Duration::from_millis(700), Duration::from_millis(2600)));
        let killed = SystemTime::now();
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        runs.push((started, killed));
        ever_complete.extend(complete_files(&cam_dir));
    }
    // The final, normal run recovers the last kill's file and records a little.
    let out = Command::new(env!("CARGO_BIN_EXE_camwire"))
        .args(args(&["--duration", "3"]))
        .output()
        .unwrap();
    assert_ok(&out, "final camwire record");

    let files = mp4_files(&cam_dir);
    for f in &files {
        assert_ffprobe_clean(f);
        let mut file = std::fs::File::open(f).unwrap();
        let scan = scan_fragments(&mut file).unwrap();
        assert!(!scan.is_torn(), "{} still torn", f.display());
        assert!(
            !scan.fragments.is_empty(),
            "{} holds no fragment",
            f.display()
        );
    }
    // No file lost: every file that ever held a complete fragment is still there.
    let now: BTreeSet<PathBuf> = files.iter().cloned().collect();
    let lost: Vec<_> = ever_complete.difference(&now).collect();
    assert!(lost.is_empty(), "files lost: {lost:?}");

    // Loss per kill: from the end of the last complete fragment of the run to the kill.
    let extents: Vec<(SystemTime, SystemTime, u64)> =
        files.iter().filter_map(|f| extent(f)).collect();
    let mut worst_ms = 0.0f64;
    let mut total_frames = 0;
    for (i, (started, killed)) in runs.iter().enumerate() {
        let mine: Vec<_> = extents
            .iter()
            .filter(|(s, _, _)| *s >= *started && *s <= *killed)
            .collect();
        let Some(last_end) = mine.iter().map(|e| e.1).max() else {
            panic!(
                "run {i} ({:.2} s) left no complete fragment",
                secs(*killed, *started)
            );
        };
        let frames: u64 = mine.iter().map(|e| e.2).sum();
        total_frames += frames;
        let lost_ms = secs(*killed, last_end) * 1000.0;
        worst_ms = worst_ms.max(lost_ms);
        // One fragment of media, plus one frame interval and scheduling slack.
        assert!(
            lost_ms <= (FRAGMENT_MS + 40 + 250) as f64,
            "run {i}: {lost_ms:.0} ms lost at the kill (fragment {FRAGMENT_MS} ms)"
        );
    }
    println!(
        "{kills} kills, {} files, {total_frames} frames from killed runs; worst loss per kill \
         {worst_ms:.0} ms = {:.1} frames (fragment {FRAGMENT_MS} ms = {} frames)",
        files.len(),
        worst_ms / 40.0,
        FRAGMENT_MS / 40
    );
    rt.block_on(sim.shutdown());
}

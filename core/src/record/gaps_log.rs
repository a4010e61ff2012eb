//! `<root>/<camera-id>/gaps.jsonl`: the outages of a camera, one JSON line each, appended by
//! the recorder and trimmed by retention.
//!
//! Two writers meet here: the recorder appends a line when a gap closes, and retention drops
//! the lines that end before the camera's oldest remaining file (the recording around them is
//! gone; without trimming a flaky camera's log grows for as long as it is recorded). Trimming
//! writes a new file and renames it over the old one, so a crash leaves either the old or the
//! new log, never half of one. Both sides hold an exclusive `flock` on the log while they work,
//! and an appender checks after locking that the path still names the file it opened: if a
//! trim replaced it in between, the appender opens the new one, so no line is lost.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::SystemTime;

use super::recorder::{GAPS_FILE, Gap};
use crate::filelock;

/// Appends one gap line (fsynced) to the camera directory's log, creating it.
pub fn append(cam_dir: &Path, gap: &Gap) -> io::Result<()> {
    std::fs::create_dir_all(cam_dir)?;
    let path = cam_dir.join(GAPS_FILE);
    // A trim renames a new file into place at most once per retention pass; a few tries are
    // plenty, and the last one writes regardless.
    for attempt in 0..8 {
        let mut f = OpenOptions::new().create(true).append(true).open(&path)?;
        filelock::lock_exclusive(&f)?;
        let current = std::fs::metadata(&path).ok().map(|m| (m.dev(), m.ino()));
        let ours = f.metadata().ok().map(|m| (m.dev(), m.ino()));
        if current.is_some() && current == ours || attempt == 7 {
            // One write per line: readers never see half a line.
            f.write_all(gap.to_json_line().as_bytes())?;
            return f.sync_data();
        }
    }
    Ok(())
}

/// Drops the lines of the camera's log that end before `cutoff`; returns how many. Lines it
/// cannot read are kept (they are somebody's evidence, not ours to judge).
pub fn trim_before(cam_dir: &Path, cutoff: SystemTime) -> io::Result<usize> {
    let path = cam_dir.join(GAPS_FILE);
    let mut f = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    filelock::lock_exclusive(&f)?;
    let mut text = String::new();
    f.read_to_string(&mut text)?;
    let cutoff = jiff::Timestamp::try_from(cutoff).ok();
    let mut kept = String::with_capacity(text.len());
    let mut dropped = 0;
    for line in text.lines() {
        let end = serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .and_then(|v| v.get("end")?.as_str()?.parse::<jiff::Timestamp>().ok());
        match (end, cutoff) {
            (Some(end), Some(cut)) if end < cut => dropped += 1,
            _ => {
                kept.push_str(line);
                kept.push('\n');
            }
        }
    }
    if dropped == 0 {
        return Ok(0);
    }
    let tmp = cam_dir.join(format!("{GAPS_FILE}.tmp"));
    {
        let mut t = File::create(&tmp)?;
        t.write_all(kept.as_bytes())?;
        t.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    File::open(cam_dir)?.sync_all()?;
    // The lock on the old file is released here; appenders waiting on it move to the new one.
    drop(f);
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn gap(start_s: u64, end_s: u64) -> Gap {
        let t = |s| SystemTime::UNIX_EPOCH + Duration::from_secs(1_763_899_200 + s);
        Gap {
            start: t(start_s),
            end: t(end_s),
            reason: format!("outage {start_s}"),
        }
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("camwire-gaps-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn trim_keeps_what_ends_at_or_after_the_cutoff_and_unreadable_lines() {
        let dir = scratch("trim");
        for (s, e) in [(0, 10), (20, 30), (40, 50)] {
            append(&dir, &gap(s, e)).unwrap();
        }
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.join(GAPS_FILE))
            .unwrap();
        f.write_all(b"not json\n").unwrap();
        let cutoff = SystemTime::UNIX_EPOCH + Duration::from_secs(1_763_899_200 + 30);
        assert_eq!(trim_before(&dir, cutoff).unwrap(), 1);
        let text = std::fs::read_to_string(dir.join(GAPS_FILE)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].contains("outage 20") && lines[1].contains("outage 40"));
        assert_eq!(lines[2], "not json");
        assert_eq!(trim_before(&dir, cutoff).unwrap(), 0);
        assert!(!dir.join(format!("{GAPS_FILE}.tmp")).exists());
        assert_eq!(trim_before(&scratch("missing"), cutoff).unwrap(), 0);
    }

    #[test]
    fn appends_racing_trims_are_never_lost() {
        let dir = scratch("race");
        append(&dir, &gap(0, 1)).unwrap();
        let cutoff = SystemTime::UNIX_EPOCH + Duration::from_secs(1_763_899_200 + 5);
        let d2 = dir.clone();
        let writer = std::thread::spawn(move || {
            for i in 0..300 {
                append(&d2, &gap(10 + i, 11 + i)).unwrap();
            }
        });
        while !writer.is_finished() {
            trim_before(&dir, cutoff).unwrap();
        }
        writer.join().unwrap();
        trim_before(&dir, cutoff).unwrap();
        let text = std::fs::read_to_string(dir.join(GAPS_FILE)).unwrap();
        assert_eq!(text.lines().count(), 300, "every append survived the trims");
        assert!(!text.contains("outage 0\""));
    }
}

//! Crash recovery: after a `kill -9` or a power cut, the newest file of a camera may end in a
//! torn fragment (a `writev` cut short) or hold no complete fragment at all (killed while
//! creating it). Before recording into a camera directory again we cut such a tail back to
//! the last complete fragment ([`crate::fmp4::ScanResult::valid_len`]) and remove files that
//! hold no fragment, so every file on disk plays.
//!
//! Only the newest files need looking at: the writer appends to one file at a time and a
//! closed file was complete (and, unless the fsync policy is `never`, synced) before the next
//! one was created. We walk back from the newest file while files turn out empty, and stop at
//! the first one that keeps at least one fragment.
//!
//! A file someone holds a lock on (a recorder in another process writing it, or an export
//! reading it) is left alone: recovering a file under a live writer would corrupt it.

use crate::filelock;
use crate::fmp4::scan_fragments;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// How many of the newest files are examined at most (the newest one, plus older ones only
/// while the newer turned out to hold nothing).
const MAX_FILES_EXAMINED: usize = 4;

/// What recovery did in one camera directory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Files cut back to their last complete fragment: (path, old length, new length).
    pub truncated: Vec<(PathBuf, u64, u64)>,
    /// Files removed because they held no complete fragment.
    pub removed: Vec<PathBuf>,
    /// Files skipped because someone holds a lock on them.
    pub skipped_held: Vec<PathBuf>,
    /// Wall-clock NTP just past the last complete fragment of the newest remaining file: where
    /// the previous run's recording ends (the start of the gap while the recorder was down).
    pub last_end_ntp: Option<u64>,
}

/// Every `*.mp4` under `<dir>/<date>/`, sorted oldest first (names are UTC start times, and
/// date directories sort the same way).
pub fn segment_files(camera_dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let days = match std::fs::read_dir(camera_dir) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for day in days.flatten() {
        if !day.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let Ok(files) = std::fs::read_dir(day.path()) else {
            continue;
        };
        for f in files.flatten() {
            let p = f.path();
            if p.extension().is_some_and(|x| x == "mp4") && f.file_type().is_ok_and(|t| t.is_file())
            {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Recovers the newest file(s) of one camera directory (`<root>/<camera-id>`); see the module
/// docs. A missing directory is not an error (a new camera).
pub fn recover_camera_dir(camera_dir: &Path) -> io::Result<RecoveryReport> {
    let mut report = RecoveryReport::default();
    let files = segment_files(camera_dir)?;
    for path in files.iter().rev().take(MAX_FILES_EXAMINED) {
        // Exclusive for the few milliseconds of the scan: no writer or reader is in the file.
        let Some(_hold) = filelock::try_exclusive(path)? else {
            log::warn!(
                "{} is held by another process: not recovering it",
                path.display()
            );
            report.skipped_held.push(path.clone());
            break;
        };
        let scan = {
            let mut f = File::open(path)?;
            match scan_fragments(&mut f) {
                Ok(s) => s,
                Err(e) => {
                    // Only I/O errors fail a scan; leave the file as it is.
                    log::error!("cannot scan {}: {e}", path.display());
                    break;
                }
            }
        };
        if scan.fragments.is_empty() {
            log::warn!(
                "{}: no complete fragment ({} bytes): removing it",
                path.display(),
                scan.file_len
            );
            std::fs::remove_file(path)?;
            report.removed.push(path.clone());
            continue;
        }
        if scan.is_torn() {
            if let Some(e) = &scan.tail_error {
                log::warn!("{}: damaged tail: {e}", path.display());
            }
            log::warn!(
                "{}: cutting a torn tail ({} -> {} bytes)",
                path.display(),
                scan.file_len,
                scan.valid_len
            );
            let f = OpenOptions::new().write(true).open(path)?;
            f.set_len(scan.valid_len)?;
            f.sync_all()?;
            report
                .truncated
                .push((path.clone(), scan.file_len, scan.valid_len));
        }
        report.last_end_ntp = scan.fragments.last().and_then(|last| {
            let timescale = scan.track.as_ref().map_or(90_000, |t| t.timescale).max(1);
            last.ntp
                .map(|ntp| ntp.saturating_add(ticks_to_ntp(last.duration, timescale)))
        });
        break;
    }
    if !report.removed.is_empty()
        && let Ok(d) = File::open(camera_dir)
    {
        // Make the removals durable too (best effort: the files held nothing).
        let _ = d.sync_all();
    }
    Ok(report)
}

/// A media duration in NTP units (2^32 per second).
pub(crate) fn ticks_to_ntp(ticks: u64, timescale: u32) -> u64 {
    let v = (u128::from(ticks) << 32) / u128::from(timescale.max(1));
    u64::try_from(v).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_dir_is_empty() {
        let r = recover_camera_dir(Path::new("/nonexistent/camwire/cam")).unwrap();
        assert_eq!(r, RecoveryReport::default());
    }
}

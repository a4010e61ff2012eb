//! Retention: deleting the oldest recordings so a disk keeps what the operator asked for.
//!
//! Limits are a maximum age and a maximum size, per camera and in total, any of them unset.
//! [`apply_retention`] walks `<root>/<camera-id>/<YYYY-MM-DD>/*.mp4` once and deletes, oldest
//! first:
//! 1. every file whose last write (mtime: the end of its recording) is older than the camera's
//!    or the total `max_age`;
//! 2. per camera, the oldest files while the camera's files exceed its `max_bytes`;
//! 3. across all cameras, the oldest files (by their UTC start, which is their name) while all
//!    files exceed the total `max_bytes`.
//!
//! Never deleted: a file someone holds an advisory lock on ([`crate::filelock`]: an export
//! reading it, or the recorder writing it, in any process), and a file written in the last
//! [`RECENT_GRACE`] (the file being written may not be locked yet in the instant after its
//! creation). Skipped files still count towards the size, so the next run catches up once they
//! are released. The limits therefore hold within one segment plus whatever is held.
//!
//! Empty date directories older than yesterday (UTC) are removed; today's and yesterday's are
//! kept because a writer may be about to create a file in them (a camera clock a few minutes
//! behind still writes into yesterday's directory). Camera directories are kept; their
//! `gaps.jsonl` loses the lines that end before the oldest file left ([`super::gaps_log`]).

use super::recovery::segment_files;
use crate::filelock;
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// A file modified this recently is never deleted.
pub const RECENT_GRACE: Duration = Duration::from_secs(1);

/// One set of limits; `None` means unlimited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetentionLimits {
    /// Files whose recording ended longer ago than this are deleted.
    pub max_age: Option<Duration>,
    /// The oldest files are deleted while the files exceed this many bytes.
    pub max_bytes: Option<u64>,
}

impl RetentionLimits {
    /// True when neither limit is set.
    pub fn is_unlimited(&self) -> bool {
        self.max_age.is_none() && self.max_bytes.is_none()
    }
}

/// What to keep.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Over every camera under the root together.
    pub total: RetentionLimits,
    /// For each camera, unless `cameras` names it.
    pub per_camera: RetentionLimits,
    /// Per-camera overrides by camera id.
    pub cameras: HashMap<String, RetentionLimits>,
}

impl RetentionPolicy {
    /// True when nothing would ever be deleted.
    pub fn is_unlimited(&self) -> bool {
        self.total.is_unlimited()
            && self.per_camera.is_unlimited()
            && self.cameras.values().all(RetentionLimits::is_unlimited)
    }

    fn limits_for(&self, camera: &str) -> RetentionLimits {
        self.cameras.get(camera).copied().unwrap_or(self.per_camera)
    }
}

/// What one retention pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Files deleted, oldest first per rule.
    pub deleted: Vec<PathBuf>,
    /// Their total size.
    pub deleted_bytes: u64,
    /// Files that were due but held by someone (or being written).
    pub skipped: Vec<PathBuf>,
    /// Empty date directories removed.
    pub removed_dirs: Vec<PathBuf>,
    /// Bytes of segment files left under the root.
    pub remaining_bytes: u64,
    /// `gaps.jsonl` lines dropped because they ended before the camera's oldest remaining
    /// file (see [`super::gaps_log`]).
    pub gaps_trimmed: usize,
    /// Errors that did not stop the pass (a file that vanished, permissions), as text.
    pub errors: Vec<String>,
}

struct Entry {
    camera: String,
    path: PathBuf,
    /// File name: the UTC start, so names sort by time across cameras.
    key: String,
    size: u64,
    modified: SystemTime,
    deleted: bool,
    skipped: bool,
}

/// One retention pass over `root` (see the module docs). `now` is the wall clock to measure
/// ages against. Fails only when the root itself cannot be listed.
pub fn apply_retention(
    root: &Path,
    policy: &RetentionPolicy,
    now: SystemTime,
) -> io::Result<RetentionReport> {
    let mut report = RetentionReport::default();
    let mut entries = Vec::new();
    for cam in std::fs::read_dir(root)?.flatten() {
        if !cam.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let camera = cam.file_name().to_string_lossy().into_owned();
        let files = match segment_files(&cam.path()) {
            Ok(f) => f,
            Err(e) => {
                report.errors.push(format!("{}: {e}", cam.path().display()));
                continue;
            }
        };
        for path in files {
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            entries.push(Entry {
                camera: camera.clone(),
                key: path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                path,
                size: meta.len(),
                modified: meta.modified().unwrap_or(now),
                deleted: false,
                skipped: false,
            });
        }
    }
    // Oldest first: by camera then name for the per-camera rules, by name for the total.
    entries.sort_by(|a, b| (&a.camera, &a.key).cmp(&(&b.camera, &b.key)));

    // 1. Age.
    for i in 0..entries.len() {
        let Some(e) = entries.get(i) else { break };
        let limits = policy.limits_for(&e.camera);
        let max_age = match (limits.max_age, policy.total.max_age) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let old =
            max_age.is_some_and(|max| now.duration_since(e.modified).is_ok_and(|age| age > max));
        if old {
            delete(&mut entries, i, now, &mut report);
        }
    }

    // 2. Bytes per camera.
    let mut by_camera: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, e) in entries.iter().enumerate() {
        by_camera.entry(e.camera.clone()).or_default().push(i);
    }
    for (camera, idx) in &by_camera {
        let Some(max) = policy.limits_for(camera).max_bytes else {
            continue;
        };
        let mut sum: u64 = idx
            .iter()
            .filter_map(|&i| entries.get(i))
            .filter(|e| !e.deleted)
            .map(|e| e.size)
            .sum();
        for &i in idx {
            if sum <= max {
                break;
            }
            if delete(&mut entries, i, now, &mut report) {
                sum = sum.saturating_sub(entries.get(i).map_or(0, |e| e.size));
            }
        }
    }

    // 3. Bytes in total, oldest first across cameras.
    if let Some(max) = policy.total.max_bytes {
        let mut order: Vec<usize> = (0..entries.len()).collect();
        order.sort_by(|&a, &b| {
            let ka = entries.get(a).map(|e| (&e.key, &e.camera));
            let kb = entries.get(b).map(|e| (&e.key, &e.camera));
            ka.cmp(&kb)
        });
        let mut sum: u64 = entries.iter().filter(|e| !e.deleted).map(|e| e.size).sum();
        for i in order {
            if sum <= max {
                break;
            }
            if delete(&mut entries, i, now, &mut report) {
                sum = sum.saturating_sub(entries.get(i).map_or(0, |e| e.size));
            }
        }
    }

    report.remaining_bytes = entries.iter().filter(|e| !e.deleted).map(|e| e.size).sum();
    trim_gap_logs(root, &entries, &mut report);
    remove_empty_date_dirs(root, now, &mut report);
    Ok(report)
}

/// For each camera that lost files in this pass, drops the gap lines that end before its
/// oldest remaining file (or before the end of its newest deleted one when none remain).
fn trim_gap_logs(root: &Path, entries: &[Entry], report: &mut RetentionReport) {
    let mut cutoffs: HashMap<&str, (Option<SystemTime>, Option<SystemTime>)> = HashMap::new();
    for e in entries {
        let c = cutoffs.entry(e.camera.as_str()).or_default();
        if e.deleted {
            c.1 = c.1.max(Some(e.modified));
        } else if let Some(start) = crate::export::index::parse_segment_name(&e.key) {
            let start = crate::export::nanos_to_system(start);
            c.0 = Some(c.0.map_or(start, |s: SystemTime| s.min(start)));
        }
    }
    for (camera, (oldest_left, newest_deleted)) in cutoffs {
        let Some(deleted_end) = newest_deleted else {
            continue; // nothing deleted for this camera
        };
        let cutoff = oldest_left.unwrap_or(deleted_end);
        match super::gaps_log::trim_before(&root.join(camera), cutoff) {
            Ok(n) => report.gaps_trimmed += n,
            Err(e) => report.errors.push(format!("{camera}/gaps.jsonl: {e}")),
        }
    }
}

/// Deletes entry `i` unless it is already gone, recent or held. True when it was deleted now.
fn delete(entries: &mut [Entry], i: usize, now: SystemTime, report: &mut RetentionReport) -> bool {
    let Some(e) = entries.get_mut(i) else {
        return false;
    };
    if e.deleted {
        return false;
    }
    let recent = now
        .duration_since(e.modified)
        .map_or(true, |age| age < RECENT_GRACE);
    if recent {
        if !e.skipped {
            e.skipped = true;
            report.skipped.push(e.path.clone());
        }
        return false;
    }
    let hold = match filelock::try_exclusive(&e.path) {
        Ok(Some(h)) => h,
        Ok(None) => {
            if !e.skipped {
                e.skipped = true;
                log::info!(
                    "retention: {} is held, keeping it for now",
                    e.path.display()
                );
                report.skipped.push(e.path.clone());
            }
            return false;
        }
        Err(err) => {
            report.errors.push(format!("{}: {err}", e.path.display()));
            return false;
        }
    };
    // Unlinking while holding the lock: no export can start reading it in between.
    match std::fs::remove_file(&e.path) {
        Ok(()) => {
            drop(hold);
            log::info!("retention: deleted {} ({} bytes)", e.path.display(), e.size);
            e.deleted = true;
            report.deleted.push(e.path.clone());
            report.deleted_bytes += e.size;
            true
        }
        Err(err) => {
            report.errors.push(format!("{}: {err}", e.path.display()));
            false
        }
    }
}

fn remove_empty_date_dirs(root: &Path, now: SystemTime, report: &mut RetentionReport) {
    let Ok(today) = jiff::Timestamp::try_from(now) else {
        return;
    };
    let yesterday = today
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .yesterday()
        .ok();
    let Ok(cams) = std::fs::read_dir(root) else {
        return;
    };
    for cam in cams.flatten() {
        if !cam.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let Ok(days) = std::fs::read_dir(cam.path()) else {
            continue;
        };
        for day in days.flatten() {
            let name = day.file_name().to_string_lossy().into_owned();
            let Ok(date) = jiff::civil::Date::strptime("%Y-%m-%d", &name) else {
                continue; // not ours
            };
            if yesterday.is_none_or(|y| date >= y) {
                continue;
            }
            let p = day.path();
            let empty = std::fs::read_dir(&p).is_ok_and(|mut d| d.next().is_none());
            // remove_dir refuses a directory that is not empty: safe against a racing writer.
            if empty && std::fs::remove_dir(&p).is_ok() {
                report.removed_dirs.push(p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_camera_override_wins() {
        let mut p = RetentionPolicy::default();
        assert!(p.is_unlimited());
        p.per_camera.max_bytes = Some(10);
        p.cameras.insert(
            "a".into(),
            RetentionLimits {
                max_age: None,
                max_bytes: Some(5),
            },
        );
        assert_eq!(p.limits_for("a").max_bytes, Some(5));
        assert_eq!(p.limits_for("b").max_bytes, Some(10));
        assert!(!p.is_unlimited());
    }
}

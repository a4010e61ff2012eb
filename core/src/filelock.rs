//! Advisory whole-file locks (`flock(2)`) shared between the recorder and exports.
//!
//! Why: retention deletes old segment files while an investigator may be exporting from them,
//! possibly from another process (`camwire export` next to a running recorder). An export takes
//! a [`FileHold::shared`] on every source file for as long as it reads it; retention calls
//! [`try_exclusive`] before deleting and skips the file when that returns `None`.
//!
//! The locks are advisory: they only coordinate code that asks for them. `flock` locks belong to
//! the open file description, so they work across processes and are released by the kernel when
//! the descriptor is closed (on drop, or when the process dies, even with `kill -9`).
//!
//! The recorder's file also carries a *writer mark* ([`FileHold::writer`]): an open-file-
//! description (OFD) `fcntl` lock on one byte far past any real file end. `flock` cannot tell
//! a recorder's shared hold from an export's, but an export must say whether a source was
//! still being written when it hashed it (the manifest's `growing`), so the writer marks its
//! file in a second, independent lock space and [`is_being_written`] asks about that mark
//! without taking anything. Like `flock`, the mark dies with the descriptor, so a killed
//! recorder leaves no stale mark.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// A held advisory lock on one file; released when dropped (the descriptor is closed).
#[derive(Debug)]
pub struct FileHold {
    file: File,
    path: PathBuf,
    exclusive: bool,
}

impl FileHold {
    /// Blocks until a shared (read) lock on `path` is granted. Many shared holds may coexist;
    /// they only exclude an exclusive hold.
    pub fn shared(path: impl AsRef<Path>) -> io::Result<FileHold> {
        let path = path.as_ref();
        let file = File::open(path)?;
        flock_retry(&file, libc::LOCK_SH)?;
        Ok(FileHold {
            file,
            path: path.to_path_buf(),
            exclusive: false,
        })
    }

    /// The recorder's hold on the file it writes: a shared `flock` (retention skips the file)
    /// plus the writer mark that [`is_being_written`] reports, both released on drop.
    pub fn writer(path: impl AsRef<Path>) -> io::Result<FileHold> {
        let path = path.as_ref();
        // Write access: an OFD write lock needs a descriptor opened for writing.
        let file = std::fs::OpenOptions::new().write(true).open(path)?;
        flock_retry(&file, libc::LOCK_SH)?;
        set_writer_mark(&file)?;
        Ok(FileHold {
            file,
            path: path.to_path_buf(),
            exclusive: false,
        })
    }

    /// The file this hold was taken on.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this is an exclusive hold (from [`try_exclusive`]).
    pub fn is_exclusive(&self) -> bool {
        self.exclusive
    }

    /// The open descriptor the lock lives on; reading through it keeps the lock meaningful
    /// even if the path is renamed.
    pub fn file(&self) -> &File {
        &self.file
    }
}

/// Tries to take an exclusive lock on `path` without waiting.
///
/// Returns `Ok(None)` when someone (any process) holds a shared or exclusive lock on it, so the
/// caller (retention) must leave the file alone. The returned hold should be kept until the file
/// has been deleted; deleting a file while holding its lock is fine on Unix.
pub fn try_exclusive(path: impl AsRef<Path>) -> io::Result<Option<FileHold>> {
    let path = path.as_ref();
    // Opened read-only: flock does not need write access, and retention only unlinks.
    let file = File::open(path)?;
    match flock_retry(&file, libc::LOCK_EX | libc::LOCK_NB) {
        Ok(()) => Ok(Some(FileHold {
            file,
            path: path.to_path_buf(),
            exclusive: true,
        })),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
    }
}

/// Blocks until an exclusive lock on the open `file` is granted (held until it is closed).
pub fn lock_exclusive(file: &File) -> io::Result<()> {
    flock_retry(file, libc::LOCK_EX)
}

/// Where the writer mark sits: one byte at the largest offset `fcntl` accepts, which no
/// segment file ever reaches, so the mark never overlaps real byte-range locks.
const WRITER_MARK_OFFSET: libc::off_t = libc::off_t::MAX - 1;

fn writer_mark_lock(kind: libc::c_short) -> libc::flock {
    // SAFETY: `flock` is a plain C struct of integers; all-zero is a valid value (and OFD
    // requests require l_pid = 0).
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = kind;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = WRITER_MARK_OFFSET;
    fl.l_len = 1;
    fl
}

#[cfg(target_os = "linux")]
fn set_writer_mark(file: &File) -> io::Result<()> {
    let fl = writer_mark_lock(libc::F_WRLCK as libc::c_short);
    loop {
        // SAFETY: valid descriptor and a pointer to a live, initialised `flock` struct.
        let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &fl) };
        if rc == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn set_writer_mark(_file: &File) -> io::Result<()> {
    Ok(())
}

/// Whether another open file description (a recorder, in this process or any other) holds
/// the writer mark on `file`, i.e. the file is still being recorded. Takes no lock.
#[cfg(target_os = "linux")]
pub fn is_being_written(file: &File) -> io::Result<bool> {
    // Asking for a read lock: only a write lock (the mark) conflicts with it.
    let mut fl = writer_mark_lock(libc::F_RDLCK as libc::c_short);
    // SAFETY: valid descriptor and a pointer to a live `flock` struct the kernel fills in.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_GETLK, &mut fl) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fl.l_type != libc::F_UNLCK as libc::c_short)
}

/// Without OFD locks the mark cannot be seen; callers fall back to the file's own state.
#[cfg(not(target_os = "linux"))]
pub fn is_being_written(_file: &File) -> io::Result<bool> {
    Ok(false)
}

/// `flock` with EINTR retry.
fn flock_retry(file: &File, op: libc::c_int) -> io::Result<()> {
    loop {
        // SAFETY: `file` owns a valid open descriptor for the duration of this call; flock only
        // reads the descriptor number and the operation flags, no memory is passed.
        let rc = unsafe { libc::flock(file.as_raw_fd(), op) };
        if rc == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_blocks_exclusive_until_dropped() {
        let dir = std::env::temp_dir().join(format!("camwire-filelock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("seg.mp4");
        std::fs::write(&p, b"x").unwrap();

        let a = FileHold::shared(&p).unwrap();
        let b = FileHold::shared(&p).unwrap();
        assert!(try_exclusive(&p).unwrap().is_none());
        drop(a);
        assert!(try_exclusive(&p).unwrap().is_none());
        drop(b);
        let ex = try_exclusive(&p).unwrap().expect("free now");
        assert!(ex.is_exclusive());
        // A second exclusive attempt while the first is held fails.
        assert!(try_exclusive(&p).unwrap().is_none());
        drop(ex);
        assert!(try_exclusive(&p).unwrap().is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn writer_mark_is_seen_by_other_descriptors_and_dies_with_the_hold() {
        let dir = std::env::temp_dir().join(format!("camwire-writermark-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("seg.mp4");
        std::fs::write(&p, b"x").unwrap();

        let reader = FileHold::shared(&p).unwrap();
        assert!(!is_being_written(reader.file()).unwrap(), "no writer yet");
        let w = FileHold::writer(&p).unwrap();
        assert!(is_being_written(reader.file()).unwrap(), "writer mark seen");
        // The writer's flock is shared: retention still cannot take the file.
        assert!(try_exclusive(&p).unwrap().is_none());
        // Another export's shared hold is not mistaken for a writer.
        let other = FileHold::shared(&p).unwrap();
        drop(w);
        assert!(
            !is_being_written(reader.file()).unwrap(),
            "mark gone with the writer"
        );
        assert!(!is_being_written(other.file()).unwrap());
        drop((reader, other));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_file_is_an_error() {
        assert!(FileHold::shared("/nonexistent/camwire/x.mp4").is_err());
        assert!(try_exclusive("/nonexistent/camwire/x.mp4").is_err());
    }
}

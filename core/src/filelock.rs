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
    fn missing_file_is_an_error() {
        assert!(FileHold::shared("/nonexistent/camwire/x.mp4").is_err());
        assert!(try_exclusive("/nonexistent/camwire/x.mp4").is_err());
    }
}

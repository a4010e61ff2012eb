//! Errors of the fMP4 reader.

use std::io;

/// Why a file (or part of it) could not be read as camwire's fragmented MP4.
#[derive(Debug, thiserror::Error)]
pub enum Fmp4Error {
    /// The underlying reader failed.
    #[error("I/O error reading MP4: {0}")]
    Io(#[from] io::Error),
    /// A box claims more bytes than its container (or the file) has: a torn write.
    #[error("box at offset {offset} is truncated")]
    Truncated {
        /// File offset of the box header.
        offset: u64,
    },
    /// A box or field has a value no valid file can have.
    #[error("invalid MP4 at offset {offset}: {reason}")]
    Invalid {
        /// File offset of the offending box or field.
        offset: u64,
        /// What is wrong.
        reason: &'static str,
    },
    /// A box the reader needs is absent.
    #[error("no `{0}` box")]
    Missing(&'static str),
    /// A box is larger than the reader is willing to load into memory.
    #[error("box at offset {offset} is too large to load ({size} bytes)")]
    TooLarge {
        /// File offset of the box header.
        offset: u64,
        /// Its size in bytes.
        size: u64,
    },
    /// Valid MP4 that camwire does not handle (another codec, several tracks of video).
    #[error("unsupported MP4: {0}")]
    Unsupported(&'static str),
}

impl Fmp4Error {
    /// True for the errors a torn or damaged tail produces (as opposed to I/O failures).
    pub fn is_damage(&self) -> bool {
        matches!(self, Self::Truncated { .. } | Self::Invalid { .. })
    }
}

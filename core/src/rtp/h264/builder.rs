//! The access unit being assembled: payload slices and NAL boundaries, within limits.
//!
//! The builder's two vectors live as long as the depacketizer, so their capacity is reused;
//! a finished access unit gets exactly-sized vectors (two small allocations per picture,
//! nothing per payload byte). A damaged access unit releases its payload slices at once
//! (they pin receive buffers) and from then on only tracks where it ends.

use bytes::Bytes;

use super::DepacketizerOptions;
use super::error::DepacketizeError;
use super::nal::{self, header_piece};
use crate::frame::NalRef;

/// Fragmentation state of the NAL unit being rebuilt from FU-A packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FuState {
    /// No fragmented NAL unit open.
    Idle,
    /// Between a start fragment and its end fragment.
    InProgress {
        /// The rebuilt NAL header (type of the start fragment).
        header: u8,
        /// Index of the header piece in `pieces`.
        first_piece: usize,
        /// Bytes so far, header included.
        len: usize,
    },
    /// Fragments whose start was never seen: ignored up to the next end fragment.
    Skipping,
}

/// An access unit taken out of the builder.
#[derive(Debug)]
pub(super) struct Finished {
    pub timestamp: i64,
    pub nals: Vec<NalRef>,
    pub pieces: Vec<Bytes>,
    pub keyframe: bool,
    pub damaged: bool,
    /// Packets were lost inside it; only whole NAL units are left (`LossPolicy::Keep`).
    pub incomplete: bool,
    /// At least one slice NAL unit is left.
    pub has_slice: bool,
}

#[derive(Debug)]
pub(super) struct AuBuilder {
    pieces: Vec<Bytes>,
    nals: Vec<NalRef>,
    bytes: usize,
    /// Set by the first slice (the access unit takes the timestamp of its first slice) or
    /// when the access unit is damaged; `None` while only parameter sets/SEI are held.
    timestamp: Option<i64>,
    keyframe: bool,
    damaged: bool,
    /// Packets were lost inside this access unit: the NAL units they carried are gone, the
    /// whole ones stay (`LossPolicy::Keep`).
    incomplete: bool,
    fu: FuState,
    /// Vectors of emitted access units given back through `recycle`.
    spare: Vec<(Vec<Bytes>, Vec<NalRef>)>,
}

/// Most vector pairs kept for reuse: a fragment's worth of access units at high frame rates.
const MAX_SPARE: usize = 128;
/// Vectors with room for more pieces than this (a huge access unit) are not kept around.
const MAX_KEPT_CAPACITY: usize = 4096;

impl AuBuilder {
    pub(super) fn new() -> Self {
        AuBuilder {
            pieces: Vec::with_capacity(64),
            nals: Vec::with_capacity(16),
            bytes: 0,
            timestamp: None,
            keyframe: false,
            damaged: false,
            incomplete: false,
            fu: FuState::Idle,
            spare: Vec::new(),
        }
    }

    pub(super) fn timestamp(&self) -> Option<i64> {
        self.timestamp
    }

    pub(super) fn is_damaged(&self) -> bool {
        self.damaged
    }

    pub(super) fn is_incomplete(&self) -> bool {
        self.incomplete
    }

    pub(super) fn fu(&self) -> FuState {
        self.fu
    }

    /// Holds nothing at all (no NAL, no fragment, no damage, no slice seen).
    pub(super) fn is_empty(&self) -> bool {
        self.pieces.is_empty()
            && self.nals.is_empty()
            && self.timestamp.is_none()
            && self.fu == FuState::Idle
    }

    /// Marks the access unit (the one at `ts` when no slice was seen yet) damaged and
    /// releases its payload. A fragmented NAL unit in progress keeps being tracked so its end
    /// is recognised, but nothing more is stored.
    pub(super) fn damage(&mut self, ts: i64) {
        self.pieces.clear();
        self.nals.clear();
        self.bytes = 0;
        self.damaged = true;
        self.timestamp.get_or_insert(ts);
    }

    /// Packets of the access unit (the one at `ts` when no slice was seen yet) were lost: the
    /// fragmented NAL unit in progress, if any, is removed (its remaining fragments are
    /// skipped up to its end fragment); every whole NAL unit stays.
    pub(super) fn lose(&mut self, ts: i64) {
        if self.damaged {
            return;
        }
        if let FuState::InProgress {
            first_piece, len, ..
        } = self.fu
        {
            self.pieces.truncate(first_piece);
            self.bytes = self.bytes.saturating_sub(len);
            self.fu = FuState::Skipping;
        }
        self.incomplete = true;
        self.timestamp.get_or_insert(ts);
    }

    fn note_nal(&mut self, header: u8, ts: i64) -> bool {
        let t = nal::nal_type(header);
        let vcl = nal::is_vcl(t);
        if vcl {
            self.timestamp.get_or_insert(ts);
            self.keyframe |= t == nal::IDR;
        }
        vcl
    }

    fn check_new_nal(&self, opts: &DepacketizerOptions) -> Result<(), DepacketizeError> {
        if self.nals.len() >= opts.max_nals_per_access_unit {
            return Err(DepacketizeError::TooManyNals {
                max: opts.max_nals_per_access_unit,
            });
        }
        Ok(())
    }

    fn check_new_piece(
        &self,
        len: usize,
        opts: &DepacketizerOptions,
    ) -> Result<(), DepacketizeError> {
        if self.pieces.len() >= opts.max_pieces_per_access_unit {
            return Err(DepacketizeError::TooManyPieces {
                max: opts.max_pieces_per_access_unit,
            });
        }
        let total = self.bytes.saturating_add(len);
        if total > opts.max_access_unit_bytes {
            return Err(DepacketizeError::AccessUnitTooLarge {
                len: total,
                max: opts.max_access_unit_bytes,
            });
        }
        Ok(())
    }

    /// Adds a complete NAL unit held in one slice. Returns whether it is a slice.
    pub(super) fn push_nal(
        &mut self,
        nal: Bytes,
        ts: i64,
        opts: &DepacketizerOptions,
    ) -> Result<bool, DepacketizeError> {
        let Some(&header) = nal.first() else {
            return Ok(false);
        };
        let vcl = self.note_nal(header, ts);
        if self.damaged {
            return Ok(vcl);
        }
        if nal.len() > opts.max_nal_bytes {
            return Err(DepacketizeError::NalTooLarge {
                len: nal.len(),
                max: opts.max_nal_bytes,
            });
        }
        self.check_new_nal(opts)?;
        self.check_new_piece(nal.len(), opts)?;
        let index = u32_of(self.pieces.len());
        self.nals.push(NalRef {
            header,
            len: u32_of(nal.len()),
            pieces: index..index + 1,
        });
        self.bytes += nal.len();
        self.pieces.push(nal);
        Ok(vcl)
    }

    /// Opens a fragmented NAL unit with rebuilt header `header` (a static one-byte slice).
    pub(super) fn fu_start(
        &mut self,
        header: u8,
        ts: i64,
        opts: &DepacketizerOptions,
    ) -> Result<(), DepacketizeError> {
        self.note_nal(header, ts);
        self.fu = FuState::InProgress {
            header,
            first_piece: self.pieces.len(),
            len: 1,
        };
        if self.damaged {
            return Ok(());
        }
        self.check_new_nal(opts)?;
        self.check_new_piece(1, opts)?;
        self.bytes += 1;
        self.pieces.push(header_piece(header));
        Ok(())
    }

    /// Appends one fragment's payload (empty fragments add no piece).
    pub(super) fn fu_fragment(
        &mut self,
        frag: Bytes,
        opts: &DepacketizerOptions,
    ) -> Result<(), DepacketizeError> {
        let FuState::InProgress { len, .. } = &mut self.fu else {
            return Ok(());
        };
        let new_len = len.saturating_add(frag.len());
        *len = new_len;
        if self.damaged || frag.is_empty() {
            return Ok(());
        }
        if new_len > opts.max_nal_bytes {
            return Err(DepacketizeError::NalTooLarge {
                len: new_len,
                max: opts.max_nal_bytes,
            });
        }
        self.check_new_piece(frag.len(), opts)?;
        self.bytes += frag.len();
        self.pieces.push(frag);
        Ok(())
    }

    /// Closes the fragmented NAL unit; returns its header.
    pub(super) fn fu_end(&mut self) -> Option<u8> {
        let FuState::InProgress {
            header,
            first_piece,
            len,
        } = self.fu
        else {
            self.fu = FuState::Idle;
            return None;
        };
        self.fu = FuState::Idle;
        if !self.damaged {
            self.nals.push(NalRef {
                header,
                len: u32_of(len),
                pieces: u32_of(first_piece)..u32_of(self.pieces.len()),
            });
        }
        Some(header)
    }

    /// Ignores fragments up to the next end or start fragment.
    pub(super) fn fu_skip(&mut self) {
        self.fu = FuState::Skipping;
    }

    /// Forgets a fragmented NAL unit that will not be completed. The caller damages the
    /// access unit, which releases the fragments already stored.
    pub(super) fn fu_abort(&mut self) {
        self.fu = FuState::Idle;
    }

    /// Takes the access unit out when it has a slice (or was damaged). Parameter sets, SEI
    /// and AUD that follow its last slice stay in the builder for the next access unit
    /// (`sps_pps_after_last_slice_go_to_next_au`). Returns `None`, keeping everything, when
    /// no slice was seen yet.
    pub(super) fn take(&mut self) -> Option<Finished> {
        let timestamp = self.timestamp?;
        let finished_flags = (self.keyframe, self.damaged, self.incomplete);
        self.timestamp = None;
        self.keyframe = false;
        self.damaged = false;
        self.incomplete = false;
        self.fu = FuState::Idle;
        let (mut keyframe, damaged, incomplete) = finished_flags;
        if damaged {
            self.clear();
            return Some(Finished {
                timestamp,
                nals: Vec::new(),
                pieces: Vec::new(),
                keyframe,
                damaged,
                incomplete,
                has_slice: false,
            });
        }
        let split = match self.nals.iter().rposition(|n| nal::is_vcl(n.nal_type())) {
            Some(last_vcl) => (last_vcl + 1..self.nals.len())
                .find(|&j| {
                    self.nals
                        .get(j)
                        .is_some_and(|n| nal::begins_next_access_unit(n.nal_type()))
                })
                .unwrap_or(self.nals.len()),
            None => self.nals.len(),
        };
        let piece_split = self
            .nals
            .get(split)
            .map_or(self.pieces.len(), |n| n.pieces.start as usize)
            .min(self.pieces.len());
        // A recycled pair when there is one; otherwise exactly-sized new vectors.
        let (mut pieces, mut nals) = self.spare.pop().unwrap_or_default();
        pieces.reserve_exact(piece_split);
        pieces.extend(self.pieces.drain(..piece_split));
        nals.reserve_exact(split);
        nals.extend(self.nals.drain(..split));
        if self.pieces.capacity() > MAX_KEPT_CAPACITY {
            self.pieces.shrink_to(64);
        }
        if self.nals.capacity() > MAX_KEPT_CAPACITY {
            self.nals.shrink_to(16);
        }
        let shift = u32_of(piece_split);
        self.bytes = 0;
        for n in &mut self.nals {
            n.pieces = n.pieces.start.saturating_sub(shift)..n.pieces.end.saturating_sub(shift);
            self.bytes += n.len as usize;
        }
        let has_slice = nals.iter().any(|n| nal::is_vcl(n.nal_type()));
        if incomplete {
            // An IDR slice whose fragments were lost no longer makes this a keyframe.
            keyframe = nals.iter().any(|n| n.nal_type() == nal::IDR);
        }
        Some(Finished {
            timestamp,
            nals,
            pieces,
            keyframe,
            damaged,
            incomplete,
            has_slice,
        })
    }

    /// Keeps an emitted access unit's vectors (emptied, so its payload is released) for the
    /// next access units.
    pub(super) fn recycle(&mut self, mut pieces: Vec<Bytes>, mut nals: Vec<NalRef>) {
        pieces.clear();
        nals.clear();
        if self.spare.len() < MAX_SPARE
            && (1..=MAX_KEPT_CAPACITY).contains(&pieces.capacity())
            && nals.capacity() <= MAX_KEPT_CAPACITY
        {
            self.spare.push((pieces, nals));
        }
    }

    /// Forgets everything (end of stream: parameter sets with no picture after them).
    pub(super) fn clear(&mut self) {
        self.pieces.clear();
        self.nals.clear();
        self.bytes = 0;
        self.timestamp = None;
        self.keyframe = false;
        self.damaged = false;
        self.incomplete = false;
        self.fu = FuState::Idle;
    }
}

/// Lengths and indices are bounded by the options; saturate rather than wrap if someone
/// configures limits beyond 4 GiB.
fn u32_of(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

//! NAL header facts the depacketizer needs, and the static table FU-A headers are sliced from.
//!
//! Only `nal_unit_type` and the first bit of a slice header matter here; real parsing is
//! `crate::h264`'s job.

use bytes::Bytes;

/// Every possible NAL header byte, so a rebuilt FU-A header is a `Bytes::from_static` slice:
/// no allocation per fragmented NAL unit.
static NAL_HEADER_BYTES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = i as u8;
        i += 1;
    }
    table
};

/// A one-byte `Bytes` holding `header`, pointing into a static table.
pub(super) fn header_piece(header: u8) -> Bytes {
    // A u8 always indexes a 256-entry table.
    Bytes::from_static(std::slice::from_ref(&NAL_HEADER_BYTES[usize::from(header)]))
}

/// `nal_unit_type` of a header byte.
pub(super) fn nal_type(header: u8) -> u8 {
    header & 0x1f
}

/// Coded slice NAL units (types 1..=5): the picture itself.
pub(super) fn is_vcl(nal_type: u8) -> bool {
    (1..=5).contains(&nal_type)
}

/// SEI, SPS, PPS, AUD and types 14..=18: when they follow the last slice of a picture they
/// begin the next access unit (H.264 §7.4.1.2.3). Their marker bit never ends an access unit.
pub(super) fn begins_next_access_unit(nal_type: u8) -> bool {
    matches!(nal_type, 6..=9 | 14..=18)
}

pub(super) const SPS: u8 = 7;
pub(super) const PPS: u8 = 8;
pub(super) const IDR: u8 = 5;

/// True when a NAL unit starting with `header` followed by `next` (the first slice-header
/// byte, if any) begins an access unit: a parameter set, SEI or AUD, or a slice whose
/// `first_mb_in_slice` is 0 (the Exp-Golomb code for 0 is a single 1 bit).
pub(super) fn begins_access_unit(header: u8, next: Option<u8>) -> bool {
    let t = nal_type(header);
    if begins_next_access_unit(t) {
        return true;
    }
    is_vcl(t) && next.is_some_and(|b| b & 0x80 != 0)
}

/// Whether an RTP payload starts at the beginning of an access unit (see
/// [`begins_access_unit`]). After a sequence gap this tells a clean start of the next picture
/// from the tail of a damaged one (`gap_before_clean_idr_start_keeps_idr`).
pub(super) fn payload_begins_access_unit(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else {
        return false;
    };
    match nal_type(first) {
        // Annex B framed payload: skip the start code.
        0 => {
            let zeros = payload.iter().take_while(|&&b| b == 0).count();
            match (payload.get(zeros), payload.get(zeros + 1)) {
                (Some(1), Some(&h)) => begins_access_unit(h, payload.get(zeros + 2).copied()),
                _ => false,
            }
        }
        1..=23 => begins_access_unit(first, payload.get(1).copied()),
        // STAP-A: the first unit's header follows the 2-byte size.
        24 => payload
            .get(3)
            .is_some_and(|&h| begins_access_unit(h, payload.get(4).copied())),
        // FU-A: only a start fragment can begin anything.
        28 => payload.get(1).is_some_and(|&fu| {
            fu & 0x80 != 0 && begins_access_unit(fu & 0x1f, payload.get(2).copied())
        }),
        _ => false,
    }
}

//! Which SPS and PPS describe the stream, and when the muxer must be told.
//!
//! Parameter sets come from sprop-parameter-sets and from the stream itself. An in-band SPS or
//! PPS is compared with the current one in place (no allocation for the usual repeat every
//! GOP); only a change copies it, so we never pin a camera receive buffer for the life of the
//! stream. A change is announced on the next emitted access unit
//! (`parameter_change_sets_new_parameters`).

use bytes::{Bytes, BytesMut};

use crate::frame::ParameterSets;

#[derive(Debug, Default)]
pub(super) struct ParamTracker {
    sps: Option<Bytes>,
    pps: Option<Bytes>,
    current: Option<ParameterSets>,
    announce: bool,
}

impl ParamTracker {
    /// Records an SPS (`is_sps`) or PPS made of `pieces`; marks an announcement when it
    /// differs from the one we have.
    pub(super) fn observe(&mut self, is_sps: bool, pieces: &[Bytes]) {
        let slot = if is_sps { &mut self.sps } else { &mut self.pps };
        if slot
            .as_deref()
            .is_some_and(|known| pieces_equal(pieces, known))
        {
            return;
        }
        let mut copy = BytesMut::with_capacity(pieces.iter().map(Bytes::len).sum());
        for p in pieces {
            copy.extend_from_slice(p);
        }
        *slot = Some(copy.freeze());
        if let (Some(sps), Some(pps)) = (&self.sps, &self.pps) {
            self.current = Some(ParameterSets {
                sps: sps.clone(),
                pps: pps.clone(),
            });
            self.announce = true;
        }
    }

    /// The parameter sets to put on the next emitted access unit, once per change.
    pub(super) fn take_announcement(&mut self) -> Option<ParameterSets> {
        if !self.announce {
            return None;
        }
        self.announce = false;
        self.current.clone()
    }

    pub(super) fn current(&self) -> Option<&ParameterSets> {
        self.current.as_ref()
    }
}

/// Whether the concatenation of `pieces` equals `whole`, without concatenating.
fn pieces_equal(pieces: &[Bytes], whole: &[u8]) -> bool {
    let mut rest = whole;
    for p in pieces {
        match (rest.get(..p.len()), rest.get(p.len()..)) {
            (Some(head), Some(tail)) if head == &p[..] => rest = tail,
            _ => return false,
        }
    }
    rest.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_compare_without_concatenating() {
        let parts = [Bytes::from_static(b"ab"), Bytes::from_static(b"cde")];
        assert!(pieces_equal(&parts, b"abcde"));
        assert!(!pieces_equal(&parts, b"abcd"));
        assert!(!pieces_equal(&parts, b"abcdef"));
        assert!(!pieces_equal(&parts, b"abxde"));
    }

    #[test]
    fn announces_once_both_are_known_and_on_change_only() {
        let mut t = ParamTracker::default();
        t.observe(true, &[Bytes::from_static(b"\x67a")]);
        assert_eq!(t.take_announcement(), None);
        t.observe(false, &[Bytes::from_static(b"\x68b")]);
        let first = t.take_announcement().unwrap();
        assert_eq!(&first.sps[..], b"\x67a");
        assert_eq!(t.take_announcement(), None);
        t.observe(
            true,
            &[Bytes::from_static(b"\x67"), Bytes::from_static(b"a")],
        );
        assert_eq!(
            t.take_announcement(),
            None,
            "same SPS in two pieces is no change"
        );
        t.observe(false, &[Bytes::from_static(b"\x68c")]);
        assert_eq!(&t.take_announcement().unwrap().pps[..], b"\x68c");
        assert_eq!(&t.current().unwrap().pps[..], b"\x68c");
    }
}

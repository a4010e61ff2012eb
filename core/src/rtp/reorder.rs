//! Putting reordered RTP packets back in sequence, and dropping duplicates, within a small
//! window, before the depacketizer sees them.
//!
//! Over UDP (household Wi-Fi, shared uplinks) packets arrive out of order and sometimes twice.
//! Without this stage a packet that overtakes another makes the depacketizer count a loss and
//! the overtaken one is then dropped as late. Here a packet that leaves a hole in the sequence
//! is held in a fixed ring of `window` slots until the hole fills; the hole is given up (and
//! becomes a counted loss downstream, in [`super::sequence::SequenceTracker`]) when
//!
//! - a packet arrives that does not fit the window (`window` sequence numbers past the hole),
//!   or
//! - the newest packet's RTP timestamp is more than `max_delay` ticks past that of the last
//!   packet released before the hole (200 ms by default: RTP time, not arrival time, so the
//!   result is deterministic and no clock is needed), or
//! - the stream ends ([`ReorderBuffer::drain`]).
//!
//! In-order traffic is never held: the cost is one ring-slot store and load per packet. The
//! ring is allocated once (`window` slots of `Option<RtpPacket>`, 56 bytes each); held packets
//! keep their payload `Bytes` slices (no copy), so at most `window` packets' receive buffers
//! are pinned.
//!
//! Duplicates (the same sequence number again, held or already released within the last 64)
//! are dropped silently ([`Arrival::Duplicate`]); a packet for a hole that was already given
//! up is [`Arrival::Late`]. Sequence numbers far off the window (a camera restarting its
//! numbering, a stray) flush what is held and pass through, so the downstream tracker's
//! probation logic (RFC 3550 A.1) decides about them; two consecutive far packets re-anchor
//! the window. Covered by the tests below and `reordered_and_duplicated_packets_*` in the
//! depacketizer's tests.

use std::collections::VecDeque;

use super::packet::RtpPacket;
use super::sequence::{DEFAULT_MAX_DROPOUT, DEFAULT_MAX_MISORDER};

/// Default window: 32 packets.
pub const DEFAULT_REORDER_WINDOW: u16 = 32;
/// Default hold time: 200 ms of RTP time at 90 kHz (5 pictures at 25 fps: a packet overtaken
/// by ten others of a low-rate stream still gets back in place; the packet count bounds
/// memory either way).
pub const DEFAULT_REORDER_MAX_DELAY: u32 = 18_000;
/// The largest window accepted (larger values are clamped).
pub const MAX_REORDER_WINDOW: u16 = 1024;

/// What happened to a packet given to [`ReorderBuffer::push`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Taken; it comes out of [`ReorderBuffer::pop`] in sequence order.
    Accepted,
    /// Taken, and it had been overtaken by a later packet: it is put back in place.
    Reordered,
    /// A copy of a packet already held or released: dropped.
    Duplicate,
    /// Its place was already given up as lost: dropped.
    Late,
}

/// A bounded reorder window for one RTP stream (see the module docs).
#[derive(Debug)]
pub struct ReorderBuffer {
    /// Ring of `window` slots; slot `head` holds sequence number `next`.
    slots: Box<[Option<RtpPacket>]>,
    head: usize,
    next: Option<u16>,
    held: usize,
    /// Released in order, waiting for `pop`.
    out: VecDeque<RtpPacket>,
    /// Bit i: sequence number `next - 1 - i` was released (1) or given up (0).
    released: u64,
    /// The highest sequence number accepted (to tell reordered arrivals).
    newest_seq: Option<u16>,
    /// RTP timestamp of the last packet accepted.
    newest_ts: u32,
    /// RTP timestamp of the last packet released (the time of the hole after it).
    released_ts: u32,
    /// A far packet seen just before: its successor re-anchors the window.
    far: Option<u16>,
    max_delay: u32,
}

impl ReorderBuffer {
    /// A buffer of `window` packets (0 turns reordering off: every packet passes straight
    /// through) that gives up a hole after `max_delay` RTP ticks.
    pub fn new(window: u16, max_delay: u32) -> Self {
        let window = usize::from(window.min(MAX_REORDER_WINDOW));
        ReorderBuffer {
            slots: (0..window).map(|_| None).collect(),
            head: 0,
            next: None,
            held: 0,
            out: VecDeque::with_capacity(window.max(1) + 1),
            released: 0,
            newest_seq: None,
            newest_ts: 0,
            released_ts: 0,
            far: None,
            max_delay,
        }
    }

    /// Packets currently held behind a hole.
    pub fn held(&self) -> usize {
        self.held
    }

    /// Takes one packet; then call [`pop`](Self::pop) until it returns `None`.
    pub fn push(&mut self, pkt: RtpPacket) -> Arrival {
        let window = self.slots.len();
        if window == 0 {
            self.out.push_back(pkt);
            return Arrival::Accepted;
        }
        let seq = pkt.sequence_number;
        if self.held == 0
            && self.next == Some(seq)
            && self
                .newest_seq
                .is_none_or(|n| (seq.wrapping_sub(n) as i16) >= 0)
        {
            // In sequence with nothing held (every packet over TCP, nearly every one over
            // UDP): what the slot store, release and advance below would do, without them.
            self.far = None;
            self.newest_seq = Some(seq);
            self.newest_ts = pkt.timestamp;
            self.released_ts = pkt.timestamp;
            self.released = (self.released << 1) | 1;
            self.head = if self.head + 1 == window {
                0
            } else {
                self.head + 1
            };
            self.next = Some(seq.wrapping_add(1));
            self.out.push_back(pkt);
            return Arrival::Accepted;
        }
        let next = *self.next.get_or_insert(seq);
        let ahead = seq.wrapping_sub(next);
        if usize::from(ahead) >= window && ahead <= DEFAULT_MAX_DROPOUT {
            // Past the window: give up the oldest holes until it fits.
            let shift = usize::from(ahead) + 1 - window;
            for _ in 0..shift {
                if self.held == 0 {
                    // Nothing waits: the packets in between are a loss, not a reordering.
                    self.jump_to(seq);
                    break;
                }
                self.advance();
            }
        }
        let Some(next) = self.next else {
            return Arrival::Late;
        };
        let ahead = seq.wrapping_sub(next);
        if usize::from(ahead) < window {
            self.far = None;
            let i = (self.head + usize::from(ahead)) % window;
            let Some(slot) = self.slots.get_mut(i) else {
                return Arrival::Late;
            };
            if slot.is_some() {
                return Arrival::Duplicate;
            }
            let reordered = self
                .newest_seq
                .is_some_and(|n| (seq.wrapping_sub(n) as i16) < 0);
            if !reordered {
                self.newest_seq = Some(seq);
                self.newest_ts = pkt.timestamp;
            }
            *slot = Some(pkt);
            self.held += 1;
            self.release();
            return if reordered {
                Arrival::Reordered
            } else {
                Arrival::Accepted
            };
        }
        let behind = next.wrapping_sub(seq);
        if (1..=DEFAULT_MAX_MISORDER).contains(&behind) {
            if behind <= 64 && self.released & (1u64 << (behind - 1)) != 0 {
                return Arrival::Duplicate;
            }
            return Arrival::Late;
        }
        // Far off: a restart of the numbering or a stray. Everything held goes out first.
        self.drain();
        if self.far.is_some_and(|f| f.wrapping_add(1) == seq) {
            // Two in a row: the stream continues from here.
            self.far = None;
            self.next = Some(seq.wrapping_add(1));
            self.released = 1;
            self.newest_seq = Some(seq);
            self.newest_ts = pkt.timestamp;
            self.released_ts = pkt.timestamp;
        } else {
            self.far = Some(seq);
        }
        self.out.push_back(pkt);
        Arrival::Accepted
    }

    /// The next packet in sequence order, if one is ready.
    pub fn pop(&mut self) -> Option<RtpPacket> {
        self.out.pop_front()
    }

    /// End of stream (or a far jump): releases every held packet in order, giving up the holes.
    pub fn drain(&mut self) {
        while self.held > 0 {
            self.advance();
        }
    }

    /// Moves the run of packets at the head out; gives up holes the timing rule says are lost.
    fn release(&mut self) {
        loop {
            while self.head_slot().is_some_and(|s| s.is_some()) {
                self.advance();
            }
            if self.held == 0 || !self.hole_expired() {
                return;
            }
            // The head is a hole that waited too long: lost.
            while self.head_slot().is_some_and(|s| s.is_none()) {
                self.advance();
            }
        }
    }

    /// True when the newest packet is more than `max_delay` RTP ticks past the packet released
    /// just before the hole.
    fn hole_expired(&self) -> bool {
        let d = self.newest_ts.wrapping_sub(self.released_ts) as i32;
        i64::from(d) > i64::from(self.max_delay)
    }

    fn head_slot(&self) -> Option<&Option<RtpPacket>> {
        self.slots.get(self.head)
    }

    /// Releases the head slot (a packet, or a hole given up) and moves on by one.
    fn advance(&mut self) {
        let window = self.slots.len();
        let taken = self.slots.get_mut(self.head).and_then(Option::take);
        let released = taken.is_some();
        if let Some(p) = taken {
            self.held -= 1;
            self.released_ts = p.timestamp;
            self.out.push_back(p);
        }
        self.released = (self.released << 1) | u64::from(released);
        self.head = (self.head + 1) % window.max(1);
        self.next = self.next.map(|n| n.wrapping_add(1));
    }

    /// Nothing held: the window simply moves so that it starts at `seq`.
    fn jump_to(&mut self, seq: u16) {
        let skipped = self.next.map_or(0, |n| seq.wrapping_sub(n));
        self.released = if skipped >= 64 {
            0
        } else {
            self.released << skipped
        };
        self.next = Some(seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn pkt(seq: u16, ts: u32) -> RtpPacket {
        RtpPacket {
            sequence_number: seq,
            timestamp: ts,
            marker: false,
            ssrc: 1,
            payload_type: 96,
            payload: Bytes::from(vec![seq as u8]),
        }
    }

    fn run(b: &mut ReorderBuffer, seqs: &[u16]) -> (Vec<u16>, Vec<Arrival>) {
        let mut out = Vec::new();
        let mut arrivals = Vec::new();
        for &s in seqs {
            arrivals.push(b.push(pkt(s, 0)));
            while let Some(p) = b.pop() {
                out.push(p.sequence_number);
            }
        }
        (out, arrivals)
    }

    #[test]
    fn in_order_packets_pass_straight_through() {
        let mut b = ReorderBuffer::new(8, 4500);
        for s in [65534u16, 65535, 0, 1] {
            assert_eq!(b.push(pkt(s, 0)), Arrival::Accepted);
            assert_eq!(b.pop().map(|p| p.sequence_number), Some(s));
            assert!(b.pop().is_none());
        }
    }

    #[test]
    fn reordered_packets_come_out_in_sequence() {
        let mut b = ReorderBuffer::new(8, 4500);
        let (out, arr) = run(&mut b, &[10, 12, 13, 11, 14]);
        assert_eq!(out, [10, 11, 12, 13, 14]);
        assert_eq!(arr[3], Arrival::Reordered);
        assert_eq!(b.held(), 0);
    }

    #[test]
    fn duplicates_are_dropped_held_or_released() {
        let mut b = ReorderBuffer::new(8, 4500);
        let (out, arr) = run(&mut b, &[1, 3, 3, 2, 2, 1, 4]);
        assert_eq!(out, [1, 2, 3, 4]);
        assert_eq!(
            arr,
            [
                Arrival::Accepted,
                Arrival::Accepted,
                Arrival::Duplicate,
                Arrival::Reordered,
                Arrival::Duplicate,
                Arrival::Duplicate,
                Arrival::Accepted
            ]
        );
    }

    #[test]
    fn hole_is_given_up_when_the_window_overflows() {
        let mut b = ReorderBuffer::new(4, u32::MAX / 2);
        // 2 is lost: 3, 4, 5 wait; 6 does not fit a window starting at 2.
        let (out, _) = run(&mut b, &[1, 3, 4, 5]);
        assert_eq!(out, [1]);
        let (out, arr) = run(&mut b, &[6, 2]);
        assert_eq!(out, [3, 4, 5, 6]);
        assert_eq!(arr[1], Arrival::Late);
    }

    #[test]
    fn hole_is_given_up_after_max_delay_of_rtp_time() {
        let mut b = ReorderBuffer::new(32, 4500);
        let mut out = Vec::new();
        for (s, ts) in [(1u16, 0u32), (3, 3600), (4, 3600), (5, 7200), (6, 7200)] {
            b.push(pkt(s, ts));
            while let Some(p) = b.pop() {
                out.push(p.sequence_number);
            }
            if s == 4 {
                assert_eq!(out, [1], "3600 ticks after the hole: still waiting");
            }
        }
        // 5's timestamp is 7200 ticks past the packet before the hole (1): more than 4500.
        assert_eq!(out, [1, 3, 4, 5, 6]);
    }

    #[test]
    fn big_loss_moves_the_window_without_holding() {
        let mut b = ReorderBuffer::new(8, 4500);
        let (out, _) = run(&mut b, &[1, 500, 501]);
        assert_eq!(out, [1, 500, 501]);
        let (_, arr) = run(&mut b, &[499]);
        assert_eq!(arr, [Arrival::Late]);
    }

    #[test]
    fn restart_passes_through_and_reanchors() {
        let mut b = ReorderBuffer::new(8, 4500);
        let (out, _) = run(&mut b, &[100, 102, 40_000, 40_001, 40_003, 40_002]);
        assert_eq!(out, [100, 102, 40_000, 40_001, 40_002, 40_003]);
    }

    #[test]
    fn drain_releases_everything_in_order() {
        let mut b = ReorderBuffer::new(8, u32::MAX / 2);
        run(&mut b, &[1, 4, 3]);
        b.drain();
        let mut out = Vec::new();
        while let Some(p) = b.pop() {
            out.push(p.sequence_number);
        }
        assert_eq!(out, [3, 4]);
    }

    #[test]
    fn window_zero_is_a_pass_through() {
        let mut b = ReorderBuffer::new(0, 4500);
        let (out, _) = run(&mut b, &[3, 1, 1, 2]);
        assert_eq!(out, [3, 1, 1, 2]);
    }
}

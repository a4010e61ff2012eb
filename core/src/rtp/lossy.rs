//! A seeded lossy path: drops, reorders and duplicates a fraction of the packets given to it,
//! the way household Wi-Fi does. For tests and benchmarks: editing a capture before `replay`
//! ([`impair_capture`]) and the loopback UDP relay of the packet-loss tests use the same
//! model, so a seed reproduces a run exactly.
//!
//! Per packet, in this order: dropped with probability `drop`; else held back with
//! probability `reorder`, to be sent after 1..=`max_reorder` later packets; else sent. A sent
//! (or released) packet is sent a second time, right after a few later ones, with probability
//! `duplicate`. Memory is bounded by the packets held back (at most one per packet seen in
//! the last `max_reorder + 4`).

use bytes::Bytes;

/// How lossy the path is. Fractions are 0.0..=1.0.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ImpairmentOptions {
    /// Seed of the generator: same seed, same fate for every packet.
    pub seed: u64,
    /// Fraction of packets dropped.
    pub drop: f64,
    /// Fraction of packets held back and sent after later ones.
    pub reorder: f64,
    /// How many later packets a held-back one waits for, at most (at least 1).
    pub max_reorder: usize,
    /// Fraction of packets sent twice.
    pub duplicate: f64,
}

impl Default for ImpairmentOptions {
    fn default() -> Self {
        ImpairmentOptions {
            seed: 1,
            drop: 0.0,
            reorder: 0.0,
            max_reorder: 10,
            duplicate: 0.0,
        }
    }
}

/// What the path did to one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Sent now.
    Sent,
    /// Never sent.
    Dropped,
    /// Held back; sent after later packets.
    Delayed,
    /// Sent now and again a little later.
    Duplicated,
}

/// Counters of an [`Impairment`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImpairmentStats {
    /// Packets given.
    pub packets: u64,
    /// Dropped.
    pub dropped: u64,
    /// Held back.
    pub delayed: u64,
    /// Sent twice.
    pub duplicated: u64,
}

/// The lossy path (see the module docs), generic over what a packet is.
#[derive(Debug)]
pub struct Impairment<T> {
    opts: ImpairmentOptions,
    rng: u64,
    /// Held packets and the count of later packets they still wait for.
    held: Vec<(usize, T)>,
    stats: ImpairmentStats,
}

impl<T: Clone> Impairment<T> {
    /// A path with these options.
    pub fn new(opts: ImpairmentOptions) -> Self {
        Impairment {
            rng: opts.seed ^ 0x9e37_79b9_7f4a_7c15,
            opts,
            held: Vec::new(),
            stats: ImpairmentStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> ImpairmentStats {
        self.stats
    }

    /// Passes one packet; appends what leaves the path now to `out`, in order.
    pub fn push(&mut self, pkt: T, out: &mut Vec<T>) -> Fate {
        self.stats.packets += 1;
        let fate = if self.chance(self.opts.drop) {
            self.stats.dropped += 1;
            Fate::Dropped
        } else if self.chance(self.opts.reorder) {
            self.stats.delayed += 1;
            let wait = 1 + (self.next() % self.opts.max_reorder.max(1) as u64) as usize;
            self.held.push((wait, pkt.clone()));
            Fate::Delayed
        } else {
            out.push(pkt.clone());
            if self.chance(self.opts.duplicate) {
                self.stats.duplicated += 1;
                let wait = 1 + (self.next() % 4) as usize;
                self.held.push((wait, pkt.clone()));
                Fate::Duplicated
            } else {
                Fate::Sent
            }
        };
        if fate != Fate::Dropped {
            // One more packet went by: held ones that waited long enough follow it.
            let mut i = 0;
            let own = if fate == Fate::Delayed {
                self.held.len().saturating_sub(1)
            } else {
                usize::MAX
            };
            let mut seen = 0;
            while let Some((wait, _)) = self.held.get_mut(i) {
                if seen != own {
                    *wait = wait.saturating_sub(1);
                }
                seen += 1;
                if *wait == 0 {
                    let (_, p) = self.held.remove(i);
                    out.push(p);
                } else {
                    i += 1;
                }
            }
        }
        fate
    }

    /// End of the stream: what is still held back goes out.
    pub fn finish(&mut self, out: &mut Vec<T>) {
        out.extend(self.held.drain(..).map(|(_, p)| p));
    }

    fn next(&mut self) -> u64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

/// Applies `opts` to the RTP packets on `channel` of an interleaved capture (the
/// `camwire capture` `.rtp` format); other channels (RTCP) pass untouched. Returns the edited
/// capture, and the sequence numbers of the RTP packets dropped. Frames after a torn one are
/// left out.
pub fn impair_capture(
    interleaved: Bytes,
    channel: u8,
    opts: ImpairmentOptions,
) -> (Vec<u8>, Vec<u16>, ImpairmentStats) {
    let mut path = Impairment::new(opts);
    let mut out = Vec::with_capacity(interleaved.len());
    let mut dropped = Vec::new();
    let mut leaving: Vec<Bytes> = Vec::new();
    for frame in crate::capture::Reader::new(interleaved) {
        let Ok(frame) = frame else { break };
        if frame.channel != channel {
            let _ = crate::capture::write_frame(&mut out, frame.channel, &frame.data);
            continue;
        }
        let seq = frame
            .data
            .get(2..4)
            .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
        if path.push(frame.data, &mut leaving) == Fate::Dropped {
            dropped.push(seq);
        }
        for p in leaving.drain(..) {
            let _ = crate::capture::write_frame(&mut out, channel, &p);
        }
    }
    path.finish(&mut leaving);
    for p in leaving.drain(..) {
        let _ = crate::capture::write_frame(&mut out, channel, &p);
    }
    (out, dropped, path.stats())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(opts: ImpairmentOptions, n: u32) -> (Vec<u32>, ImpairmentStats) {
        let mut p = Impairment::new(opts);
        let mut out = Vec::new();
        for i in 0..n {
            p.push(i, &mut out);
        }
        p.finish(&mut out);
        (out, p.stats())
    }

    #[test]
    fn a_clean_path_changes_nothing() {
        let (out, s) = run(ImpairmentOptions::default(), 1000);
        assert_eq!(out, (0..1000).collect::<Vec<_>>());
        assert_eq!(s.packets, 1000);
    }

    #[test]
    fn fractions_and_bounds_hold_and_seeds_repeat() {
        let opts = ImpairmentOptions {
            seed: 7,
            drop: 0.05,
            reorder: 0.02,
            max_reorder: 10,
            duplicate: 0.01,
        };
        let (out, s) = run(opts, 20_000);
        assert!((800..1200).contains(&s.dropped), "{s:?}");
        assert!((250..550).contains(&s.delayed), "{s:?}");
        assert!((100..320).contains(&s.duplicated), "{s:?}");
        assert_eq!(out.len() as u64, 20_000 - s.dropped + s.duplicated);
        // A held-back packet is overtaken by at most max_reorder later ones (a duplicate by
        // at most 4).
        for (pos, &v) in out.iter().enumerate().take(3000) {
            let overtaken = out[pos.saturating_sub(40)..pos]
                .iter()
                .filter(|&&x| x > v)
                .count();
            assert!(overtaken <= 10, "{v} overtaken by {overtaken}");
        }
        assert_eq!(run(opts, 20_000).0, out, "same seed, same path");
        let other = ImpairmentOptions { seed: 8, ..opts };
        assert_ne!(run(other, 20_000).0, out);
    }
}

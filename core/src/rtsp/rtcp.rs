//! RTCP for a receiving client (RFC 3550 §6): read sender reports (wall clock) and BYE (end
//! of stream); write receiver reports with an SDES CNAME, which cameras expect (some drop UDP
//! sessions that send none).

/// What a compound RTCP packet told us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtcpEvent {
    /// A sender report: 64-bit NTP time and the matching RTP timestamp.
    SenderReport {
        /// SSRC of the sender.
        ssrc: u32,
        /// NTP timestamp (seconds since 1900 in the upper 32 bits).
        ntp: u64,
        /// RTP timestamp at that instant.
        rtp_timestamp: u32,
    },
    /// BYE: the source leaves.
    Bye,
}

/// Walks a compound packet: a BYE anywhere wins; otherwise the first sender report. Malformed
/// packets end the walk, never a panic.
pub fn parse_compound(raw: &[u8]) -> Option<RtcpEvent> {
    let mut rest = raw;
    let mut sr = None;
    while rest.len() >= 4 {
        if rest[0] >> 6 != 2 {
            break;
        }
        let pt = rest[1];
        let words = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
        let len = (words + 1) * 4;
        let Some(pkt) = rest.get(..len) else { break };
        match pt {
            203 => return Some(RtcpEvent::Bye),
            200 if pkt.len() >= 20 && sr.is_none() => {
                let ssrc = u32::from_be_bytes([pkt[4], pkt[5], pkt[6], pkt[7]]);
                let ntp = u64::from_be_bytes([
                    pkt[8], pkt[9], pkt[10], pkt[11], pkt[12], pkt[13], pkt[14], pkt[15],
                ]);
                let rtp_timestamp = u32::from_be_bytes([pkt[16], pkt[17], pkt[18], pkt[19]]);
                sr = Some(RtcpEvent::SenderReport {
                    ssrc,
                    ntp,
                    rtp_timestamp,
                });
            }
            _ => {}
        }
        rest = &rest[len..];
    }
    sr
}

/// Reception statistics of one source, for its report block (RFC 3550 appendix A.1, A.3,
/// A.8). Updating them per packet allocates nothing and reads no clock: the caller passes the
/// arrival time it took once per socket read.
#[derive(Debug, Clone, Default)]
pub struct ReceiverStats {
    /// The source's SSRC, once a packet came.
    pub ssrc: Option<u32>,
    /// RTP clock rate of the stream (from the SDP); 0 when unknown (jitter not measured).
    clock_rate: u32,
    base_seq: u32,
    max_seq: u16,
    cycles: u32,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    /// Arrival times are counted from here (the source's first packet), in clock units.
    epoch: Option<std::time::Instant>,
    /// Relative transit time of the previous packet (arrival − RTP timestamp, clock units,
    /// modulo 2³²), once one came.
    transit: Option<u32>,
    /// Interarrival jitter × 16 (RFC 3550 A.8's integer form; 64 bits so that no transit
    /// difference, however wild, overflows it).
    jitter16: u64,
    /// Middle 32 bits of the last SR's NTP time and when it came.
    last_sr: Option<(u32, std::time::Instant)>,
    /// The last arrival time and its clock units (packets of one read share it).
    last_arrival: Option<(std::time::Instant, u32)>,
}

impl ReceiverStats {
    /// Statistics of a stream whose RTP clock runs at `clock_rate` Hz (0: unknown, the jitter
    /// field then stays 0).
    pub fn new(clock_rate: u32) -> ReceiverStats {
        ReceiverStats {
            clock_rate,
            ..Default::default()
        }
    }

    /// Counts an RTP packet that arrived at `arrival` (the time of the socket read that
    /// completed it).
    pub fn on_rtp(&mut self, ssrc: u32, seq: u16, rtp_timestamp: u32, arrival: std::time::Instant) {
        if self.ssrc != Some(ssrc) {
            *self = ReceiverStats {
                ssrc: Some(ssrc),
                clock_rate: self.clock_rate,
                base_seq: u32::from(seq),
                max_seq: seq,
                epoch: Some(arrival),
                last_sr: self.last_sr,
                ..Default::default()
            };
        } else if seq.wrapping_sub(self.max_seq) < 0x8000 {
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(1 << 16);
            }
            self.max_seq = seq;
        }
        self.received = self.received.wrapping_add(1);
        if self.clock_rate != 0
            && let Some(epoch) = self.epoch
        {
            // Arrival in RTP clock units, modulo 2^32 like the timestamps (A.8): whole
            // seconds and the rest apart, exact, in u64 (no u128 division per packet); once
            // per arrival time, which all packets of one socket read share.
            let arrival_units = match self.last_arrival {
                Some((at, units)) if at == arrival => units,
                _ => {
                    let d = arrival.saturating_duration_since(epoch);
                    let rate = u64::from(self.clock_rate);
                    let units = d
                        .as_secs()
                        .wrapping_mul(rate)
                        .wrapping_add(u64::from(d.subsec_nanos()) * rate / 1_000_000_000)
                        as u32;
                    self.last_arrival = Some((arrival, units));
                    units
                }
            };
            let transit = arrival_units.wrapping_sub(rtp_timestamp);
            if let Some(prev) = self.transit {
                let d = u64::from((transit.wrapping_sub(prev) as i32).unsigned_abs());
                // J += (|D| - J) / 16, kept scaled by 16: J16 += |D| - round(J16 / 16).
                self.jitter16 = self.jitter16 + d - ((self.jitter16 + 8) >> 4);
            }
            self.transit = Some(transit);
        }
    }

    /// Interarrival jitter in RTP clock units, as the next report carries it.
    pub fn jitter(&self) -> u32 {
        u32::try_from(self.jitter16 >> 4).unwrap_or(u32::MAX)
    }

    /// Notes a sender report's NTP time.
    pub fn on_sender_report(&mut self, ntp: u64, now: std::time::Instant) {
        self.last_sr = Some(((ntp >> 16) as u32, now));
    }

    /// Appends a compound RR + SDES CNAME packet from `our_ssrc` to `out`.
    pub fn write_report(
        &mut self,
        our_ssrc: u32,
        cname: &str,
        now: std::time::Instant,
        out: &mut Vec<u8>,
    ) {
        let block = self.ssrc.map(|ssrc| {
            let ext_max = self.cycles.wrapping_add(u32::from(self.max_seq));
            let expected = ext_max.wrapping_sub(self.base_seq).wrapping_add(1);
            let lost = i64::from(expected) - i64::from(self.received);
            let lost = lost.clamp(-0x80_0000, 0x7f_ffff) as i32 as u32 & 0xff_ffff;
            let exp_int = expected.wrapping_sub(self.expected_prior);
            let rec_int = self.received.wrapping_sub(self.received_prior);
            self.expected_prior = expected;
            self.received_prior = self.received;
            let lost_int = i64::from(exp_int) - i64::from(rec_int);
            let fraction = if exp_int == 0 || lost_int <= 0 {
                0u8
            } else {
                ((lost_int << 8) / i64::from(exp_int)).min(255) as u8
            };
            let (lsr, dlsr) = match self.last_sr {
                Some((lsr, at)) => {
                    let d = now.saturating_duration_since(at);
                    (lsr, (d.as_secs_f64() * 65536.0) as u32)
                }
                None => (0, 0),
            };
            (ssrc, fraction, lost, ext_max, self.jitter(), lsr, dlsr)
        });
        let rc = u8::from(block.is_some());
        out.extend_from_slice(&[0x80 | rc, 201]);
        out.extend_from_slice(&(1 + 6 * u16::from(rc)).to_be_bytes());
        out.extend_from_slice(&our_ssrc.to_be_bytes());
        if let Some((ssrc, fraction, lost, ext_max, jitter, lsr, dlsr)) = block {
            out.extend_from_slice(&ssrc.to_be_bytes());
            out.push(fraction);
            out.extend_from_slice(&lost.to_be_bytes()[1..]);
            out.extend_from_slice(&ext_max.to_be_bytes());
            out.extend_from_slice(&jitter.to_be_bytes());
            out.extend_from_slice(&lsr.to_be_bytes());
            out.extend_from_slice(&dlsr.to_be_bytes());
        }
        // SDES with one chunk: SSRC, CNAME item, end item, padding to a 32-bit boundary.
        let name = &cname.as_bytes()[..cname.len().min(255)];
        let chunk_len = 4 + 2 + name.len() + 1;
        let padded = chunk_len.div_ceil(4) * 4;
        out.extend_from_slice(&[0x81, 202]);
        out.extend_from_slice(&((padded / 4) as u16).to_be_bytes());
        out.extend_from_slice(&our_ssrc.to_be_bytes());
        out.extend_from_slice(&[1, name.len() as u8]);
        out.extend_from_slice(name);
        out.resize(out.len() + (padded - chunk_len) + 1, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sender_report_then_bye() {
        let mut sr = vec![0x80, 200, 0, 6, 1, 2, 3, 4];
        sr.extend_from_slice(&0x1122_3344_5566_7788u64.to_be_bytes());
        sr.extend_from_slice(&90_000u32.to_be_bytes());
        sr.extend_from_slice(&[0; 8]);
        assert_eq!(
            parse_compound(&sr),
            Some(RtcpEvent::SenderReport {
                ssrc: 0x0102_0304,
                ntp: 0x1122_3344_5566_7788,
                rtp_timestamp: 90_000
            })
        );
        let mut compound = sr.clone();
        compound.extend_from_slice(&[0x81, 203, 0, 1, 1, 2, 3, 4]);
        assert_eq!(parse_compound(&compound), Some(RtcpEvent::Bye));
        assert_eq!(parse_compound(&sr[..10]), None);
    }

    #[test]
    fn receiver_report_counts_loss_and_carries_cname() {
        let mut st = ReceiverStats::default();
        let t0 = std::time::Instant::now();
        for seq in [65534u16, 65535, 0, 2, 3] {
            st.on_rtp(7, seq, 0, t0);
        }
        st.on_sender_report(0x0000_1234_5678_0000, t0);
        let mut out = Vec::new();
        st.write_report(0xabcd, "camwire@host", t0, &mut out);
        assert_eq!(out.len() % 4, 0);
        assert_eq!(&out[..2], &[0x81, 201]);
        let rr_len = (usize::from(u16::from_be_bytes([out[2], out[3]])) + 1) * 4;
        assert_eq!(rr_len, 32);
        assert_eq!(u32::from_be_bytes(out[8..12].try_into().unwrap()), 7);
        // 6 expected (65534..=3), 5 received: one lost, fraction 1/6 * 256 = 42.
        assert_eq!(out[12], 42);
        assert_eq!(&out[13..16], &[0, 0, 1]);
        assert_eq!(
            u32::from_be_bytes(out[16..20].try_into().unwrap()),
            0x1_0003
        );
        assert_eq!(
            u32::from_be_bytes(out[24..28].try_into().unwrap()),
            0x1234_5678
        );
        let sdes = &out[rr_len..];
        assert_eq!(sdes[1], 202);
        assert_eq!(sdes[8], 1);
        assert_eq!(&sdes[10..10 + usize::from(sdes[9])], b"camwire@host");
        assert_eq!(sdes.len(), (usize::from(sdes[3]) + 1) * 4);
        // The walk of our own packet finds neither SR nor BYE.
        assert_eq!(parse_compound(&out), None);
    }

    /// RFC 3550 A.8 by hand, 90 kHz clock (1 ms = 90 units), arrivals counted from the first:
    ///
    /// | arrival ms | RTP ts | arrival units | transit | D | J16 = J16 + D − ((J16 + 8) >> 4) | J |
    /// |---|---|---|---|---|---|---|
    /// | 0 | 0 | 0 | 0 | – | 0 | 0 |
    /// | 50 | 3600 | 4500 | 900 | 900 | 900 | 56 |
    /// | 80 | 7200 | 7200 | 0 | 900 | 900 + 900 − 56 = 1744 | 109 |
    /// | 120 | 10800 | 10800 | 0 | 0 | 1744 − 109 = 1635 | 102 |
    /// | 170 | 14400 | 15300 | 900 | 900 | 1635 + 900 − 102 = 2433 | 152 |
    ///
    /// (The floating-point form J += (|D| − J)/16 gives 56.25, 108.98, 102.17, 152.03.)
    #[test]
    fn interarrival_jitter_follows_rfc3550_a8() {
        let t0 = std::time::Instant::now();
        let ms = |m: u64| t0 + std::time::Duration::from_millis(m);
        let mut st = ReceiverStats::new(90_000);
        let expect = [0, 56, 109, 102, 152];
        for (i, ((arrival, ts), want)) in [
            (0u64, 0u32),
            (50, 3600),
            (80, 7200),
            (120, 10_800),
            (170, 14_400),
        ]
        .into_iter()
        .zip(expect)
        .enumerate()
        {
            // An arbitrary base timestamp: only differences count, across the 2^32 wrap too.
            st.on_rtp(9, 100 + i as u16, ts.wrapping_add(0xffff_f000), ms(arrival));
            assert_eq!(st.jitter(), want, "after packet {i}");
        }
        let mut out = Vec::new();
        st.write_report(1, "c", ms(200), &mut out);
        assert_eq!(u32::from_be_bytes(out[20..24].try_into().unwrap()), 152);
        // A new SSRC starts over; an unknown clock rate measures nothing.
        st.on_rtp(10, 1, 0, ms(300));
        assert_eq!(st.jitter(), 0);
        let mut unknown = ReceiverStats::new(0);
        unknown.on_rtp(9, 1, 0, ms(0));
        unknown.on_rtp(9, 2, 0, ms(500));
        assert_eq!(unknown.jitter(), 0);
    }

    #[test]
    fn perfectly_paced_packets_have_no_jitter() {
        let t0 = std::time::Instant::now();
        let mut st = ReceiverStats::new(8000);
        for i in 0..100u32 {
            let at = t0 + std::time::Duration::from_millis(u64::from(i) * 20);
            st.on_rtp(3, i as u16, i * 160, at);
        }
        assert_eq!(st.jitter(), 0);
    }
}

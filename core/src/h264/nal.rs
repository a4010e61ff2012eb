//! NAL unit headers and the NAL-to-RBSP conversion.
//!
//! The first byte of every NAL unit is `forbidden_zero_bit(1) nal_ref_idc(2) nal_unit_type(5)`.
//! Types 24..=29 never occur in an H.264 byte stream; RFC 6184 uses them for RTP aggregation and
//! fragmentation packets, and they are listed here so the depacketizer has one place for names.

/// Coded slice of a non-IDR picture.
pub const NON_IDR_SLICE: u8 = 1;
/// Coded slice data partition A.
pub const PARTITION_A: u8 = 2;
/// Coded slice data partition B.
pub const PARTITION_B: u8 = 3;
/// Coded slice data partition C.
pub const PARTITION_C: u8 = 4;
/// Coded slice of an IDR picture.
pub const IDR_SLICE: u8 = 5;
/// Supplemental enhancement information.
pub const SEI: u8 = 6;
/// Sequence parameter set.
pub const SPS: u8 = 7;
/// Picture parameter set.
pub const PPS: u8 = 8;
/// Access unit delimiter.
pub const AUD: u8 = 9;
/// End of sequence.
pub const END_OF_SEQUENCE: u8 = 10;
/// End of stream.
pub const END_OF_STREAM: u8 = 11;
/// Filler data.
pub const FILLER: u8 = 12;
/// Sequence parameter set extension.
pub const SPS_EXTENSION: u8 = 13;
/// Prefix NAL unit (SVC/MVC).
pub const PREFIX: u8 = 14;
/// Subset sequence parameter set (SVC/MVC).
pub const SUBSET_SPS: u8 = 15;
/// Coded slice of an auxiliary coded picture without partitioning.
pub const AUXILIARY_SLICE: u8 = 19;
/// Coded slice extension (SVC/MVC).
pub const SLICE_EXTENSION: u8 = 20;
/// RFC 6184 single-time aggregation packet.
pub const STAP_A: u8 = 24;
/// RFC 6184 single-time aggregation packet with decoding order number.
pub const STAP_B: u8 = 25;
/// RFC 6184 multi-time aggregation packet, 16-bit timestamp offsets.
pub const MTAP16: u8 = 26;
/// RFC 6184 multi-time aggregation packet, 24-bit timestamp offsets.
pub const MTAP24: u8 = 27;
/// RFC 6184 fragmentation unit.
pub const FU_A: u8 = 28;
/// RFC 6184 fragmentation unit with decoding order number.
pub const FU_B: u8 = 29;

/// `nal_unit_type` as an enum, for `match`es that want names; [`NalType::Other`] keeps every
/// other value so the conversion is total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NalType {
    /// 1
    NonIdrSlice,
    /// 2
    PartitionA,
    /// 3
    PartitionB,
    /// 4
    PartitionC,
    /// 5
    IdrSlice,
    /// 6
    Sei,
    /// 7
    Sps,
    /// 8
    Pps,
    /// 9
    Aud,
    /// 10
    EndOfSequence,
    /// 11
    EndOfStream,
    /// 12
    Filler,
    /// 13
    SpsExtension,
    /// 14
    Prefix,
    /// 15
    SubsetSps,
    /// 20
    SliceExtension,
    /// 24
    StapA,
    /// 25
    StapB,
    /// 26
    Mtap16,
    /// 27
    Mtap24,
    /// 28
    FuA,
    /// 29
    FuB,
    /// Any other value (0, 16..=19 except those above, 21..=23, 30, 31).
    Other(u8),
}

impl From<u8> for NalType {
    /// Converts a `nal_unit_type` (or a whole header byte: only the low 5 bits are used).
    fn from(v: u8) -> Self {
        match v & 0x1f {
            NON_IDR_SLICE => Self::NonIdrSlice,
            PARTITION_A => Self::PartitionA,
            PARTITION_B => Self::PartitionB,
            PARTITION_C => Self::PartitionC,
            IDR_SLICE => Self::IdrSlice,
            SEI => Self::Sei,
            SPS => Self::Sps,
            PPS => Self::Pps,
            AUD => Self::Aud,
            END_OF_SEQUENCE => Self::EndOfSequence,
            END_OF_STREAM => Self::EndOfStream,
            FILLER => Self::Filler,
            SPS_EXTENSION => Self::SpsExtension,
            PREFIX => Self::Prefix,
            SUBSET_SPS => Self::SubsetSps,
            SLICE_EXTENSION => Self::SliceExtension,
            STAP_A => Self::StapA,
            STAP_B => Self::StapB,
            MTAP16 => Self::Mtap16,
            MTAP24 => Self::Mtap24,
            FU_A => Self::FuA,
            FU_B => Self::FuB,
            other => Self::Other(other),
        }
    }
}

impl From<NalType> for u8 {
    fn from(t: NalType) -> u8 {
        match t {
            NalType::NonIdrSlice => NON_IDR_SLICE,
            NalType::PartitionA => PARTITION_A,
            NalType::PartitionB => PARTITION_B,
            NalType::PartitionC => PARTITION_C,
            NalType::IdrSlice => IDR_SLICE,
            NalType::Sei => SEI,
            NalType::Sps => SPS,
            NalType::Pps => PPS,
            NalType::Aud => AUD,
            NalType::EndOfSequence => END_OF_SEQUENCE,
            NalType::EndOfStream => END_OF_STREAM,
            NalType::Filler => FILLER,
            NalType::SpsExtension => SPS_EXTENSION,
            NalType::Prefix => PREFIX,
            NalType::SubsetSps => SUBSET_SPS,
            NalType::SliceExtension => SLICE_EXTENSION,
            NalType::StapA => STAP_A,
            NalType::StapB => STAP_B,
            NalType::Mtap16 => MTAP16,
            NalType::Mtap24 => MTAP24,
            NalType::FuA => FU_A,
            NalType::FuB => FU_B,
            NalType::Other(v) => v & 0x1f,
        }
    }
}

/// `nal_unit_type` of a NAL header byte (its low 5 bits).
pub fn nal_type(header: u8) -> u8 {
    header & 0x1f
}

/// `nal_ref_idc` of a NAL header byte (0 = not used for reference).
pub fn nal_ref_idc(header: u8) -> u8 {
    (header >> 5) & 0x03
}

/// True for the NAL types that carry coded slice data (1..=5): the ones that make up a picture.
pub fn is_vcl(nal_type: u8) -> bool {
    (NON_IDR_SLICE..=IDR_SLICE).contains(&nal_type)
}

/// Converts NAL unit payload bytes to the RBSP by removing emulation-prevention bytes: every
/// `03` that follows two zero bytes (H.264 section 7.4.1). Works on the payload with or without
/// the header byte (a header is never zero in a valid stream). The output is never longer than
/// the input, so the allocation is bounded by the caller's input.
pub fn rbsp(nal_payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal_payload.len());
    let mut zeros = 0usize;
    for &b in nal_payload {
        if zeros >= 2 && b == 0x03 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// Like [`rbsp`], but writes into `out` and stops when it is full; returns the number of bytes
/// written. For reading the first fields of a large NAL unit (a slice header) without copying
/// or allocating for the whole unit: the result is exactly the first bytes of the full RBSP.
pub fn rbsp_prefix(nal_payload: &[u8], out: &mut [u8]) -> usize {
    let mut written = 0usize;
    let mut zeros = 0usize;
    for &b in nal_payload {
        if written >= out.len() {
            break;
        }
        if zeros >= 2 && b == 0x03 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        if let Some(slot) = out.get_mut(written) {
            *slot = b;
        }
        written += 1;
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields() {
        assert_eq!(nal_type(0x67), SPS);
        assert_eq!(nal_type(0x68), PPS);
        assert_eq!(nal_type(0x65), IDR_SLICE);
        assert_eq!(nal_type(0x41), NON_IDR_SLICE);
        assert_eq!(nal_type(0x7c), FU_A);
        assert_eq!(nal_type(0x78), STAP_A);
        assert_eq!(nal_ref_idc(0x67), 3);
        assert_eq!(nal_ref_idc(0x41), 2);
        assert_eq!(nal_ref_idc(0x06), 0);
        assert!(is_vcl(1) && is_vcl(5) && !is_vcl(6) && !is_vcl(0));
    }

    #[test]
    fn nal_type_enum_round_trips_every_value() {
        for v in 0u8..32 {
            assert_eq!(u8::from(NalType::from(v)), v);
        }
        assert_eq!(NalType::from(0x67), NalType::Sps);
        assert_eq!(NalType::from(28), NalType::FuA);
        assert_eq!(NalType::from(0), NalType::Other(0));
    }

    #[test]
    fn emulation_prevention_bytes_are_removed() {
        // The SPS of a 1080p x264 stream has two emulation-prevention bytes.
        assert_eq!(
            rbsp(&[
                0x44, 0x00, 0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0xc8
            ]),
            vec![0x44, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0xc8]
        );
        // 00 00 03 03: only the first 03 is an escape.
        assert_eq!(rbsp(&[0, 0, 3, 3]), vec![0, 0, 3]);
        // After an escape the zero count restarts: 00 00 03 00 03 keeps the second 03.
        assert_eq!(rbsp(&[0, 0, 3, 0, 3]), vec![0, 0, 0, 3]);
        // 00 00 00 03 (three zeros) still escapes.
        assert_eq!(rbsp(&[0, 0, 0, 3, 1]), vec![0, 0, 0, 1]);
        // A 03 at the end (cabac_zero_word) is an escape too.
        assert_eq!(rbsp(&[5, 0, 0, 3]), vec![5, 0, 0]);
        // Nothing to remove.
        assert_eq!(rbsp(&[0, 3, 0, 0, 1, 3]), vec![0, 3, 0, 0, 1, 3]);
        assert!(rbsp(&[]).is_empty());
    }

    #[test]
    fn rbsp_prefix_matches_the_start_of_rbsp() {
        let data = [0x88, 0, 0, 3, 1, 0, 0, 3, 0, 0, 0, 3, 2, 7, 9];
        let full = rbsp(&data);
        for n in 0..=full.len() + 2 {
            let mut buf = vec![0xaa; n];
            let written = rbsp_prefix(&data, &mut buf);
            assert_eq!(written, n.min(full.len()));
            assert_eq!(&buf[..written], &full[..written]);
        }
    }
}

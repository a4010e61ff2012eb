//! Writer and reader tests: box layout, timing, flags, zero copy, buffer reuse, round trips,
//! torn tails and hostile input.

use std::io::{self, Cursor, IoSlice, Write};

use bytes::Bytes;

use super::*;
use crate::frame::{AccessUnit, NalRef};

/// An access unit whose NAL units are each split into two pieces (one when a NAL is 1 byte).
fn au(nals: &[&[u8]], keyframe: bool) -> AccessUnit {
    let mut out = AccessUnit {
        keyframe,
        ..AccessUnit::default()
    };
    for nal in nals {
        let b = Bytes::copy_from_slice(nal);
        let start = out.pieces.len() as u32;
        let cut = b.len().div_ceil(2);
        out.pieces.push(b.slice(..cut));
        if cut < b.len() {
            out.pieces.push(b.slice(cut..));
        }
        out.nals.push(NalRef {
            header: nal[0],
            len: nal.len() as u32,
            pieces: start..out.pieces.len() as u32,
        });
    }
    out
}

fn avc(a: &AccessUnit) -> Vec<u8> {
    let mut v = Vec::new();
    a.write_avc(&mut v);
    v
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

fn be64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().unwrap())
}

fn track() -> VideoTrack {
    VideoTrack {
        width: 320,
        height: 240,
        timescale: 90_000,
        avcc: vec![
            1, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0, 3, 0x67, 0x42, 0xc0, 1, 0, 2, 0x68, 0xce,
        ],
    }
}

/// One trun sample record: (duration, size, flags, cts offset).
type TrunRecord = (u32, u32, u32, i32);

/// A fragment's trun: sample count, data offset, sample records.
fn trun_records(moof_body: &[u8]) -> (u32, i32, Vec<TrunRecord>) {
    let trun = find_path(moof_body, &[b"traf", b"trun"]).expect("trun");
    assert_eq!(trun[0], 1, "trun version 1");
    assert_eq!(be32(trun, 0) & 0xff_ffff, 0xf01);
    let count = be32(trun, 4);
    let data_offset = be32(trun, 8) as i32;
    let recs = (0..count as usize)
        .map(|i| {
            let at = 12 + 16 * i;
            (
                be32(trun, at),
                be32(trun, at + 4),
                be32(trun, at + 8),
                be32(trun, at + 12) as i32,
            )
        })
        .collect();
    (count, data_offset, recs)
}

#[test]
fn fragment_layout_offsets_and_flags() {
    let aus = [
        au(
            &[b"\x67sps", b"\x68p", b"\x06sei..", b"\x65idr-slice-data"],
            true,
        ),
        au(&[b"\x41p-slice"], false),
        au(&[b"\x41another p slice"], false),
    ];
    let payload: Vec<u8> = aus.iter().flat_map(avc).collect();
    let mut b = FragmentBuilder::new();
    for (i, a) in aus.iter().enumerate() {
        let dts = 1_000 + 3_000 * i as i64;
        // Signed composition offsets: +1500, -1500, 0.
        let pts = dts + [1_500, -1_500, 0][i];
        b.push(&mut a.clone(), dts, pts);
    }
    assert_eq!(b.len(), 3);
    assert_eq!(b.payload_bytes(), payload.len());
    assert_eq!(b.first_dts(), Some(1_000));
    assert_eq!(b.duration_so_far(), 6_000);

    let mut out = Vec::new();
    let n = b
        .write_to(&mut out, Some(10_000), Some(0x1122_3344_5566_7788))
        .expect("write");
    assert_eq!(n, out.len() as u64);
    assert!(b.is_empty() && b.payload_bytes() == 0);
    assert_eq!(b.sequence_number(), 2);

    let top: Vec<_> = BoxIter::new(&out, 0)
        .collect::<Result<_, _>>()
        .expect("walk");
    let names: Vec<_> = top.iter().map(|b| b.fourcc).collect();
    assert_eq!(names, [*b"prft", *b"moof", *b"mdat"]);
    assert_eq!(top.iter().map(|b| b.size).sum::<u64>(), out.len() as u64);

    // prft v1: track 1, NTP, media time of the first sample (its pts on the file timeline).
    let prft = top[0].body;
    assert_eq!(top[0].size, 32);
    assert_eq!(prft[0], 1);
    assert_eq!(be32(prft, 4), TRACK_ID);
    assert_eq!(be64(prft, 8), 0x1122_3344_5566_7788);
    assert_eq!(be64(prft, 16), 1_500);

    let moof = &top[1];
    assert_eq!(moof.size, 88 + 16 * 3);
    let mfhd = find_child(moof.body, b"mfhd").expect("mfhd");
    assert_eq!(be32(mfhd, 4), 1);
    let tfhd = find_path(moof.body, &[b"traf", b"tfhd"]).expect("tfhd");
    assert_eq!(be32(tfhd, 0), 0x02_0000, "default-base-is-moof only");
    assert_eq!(be32(tfhd, 4), TRACK_ID);
    let tfdt = find_path(moof.body, &[b"traf", b"tfdt"]).expect("tfdt");
    assert_eq!(tfdt[0], 1, "tfdt version 1");
    assert_eq!(be64(tfdt, 4), 0, "file timeline starts at the first dts");

    let (count, data_offset, recs) = trun_records(moof.body);
    assert_eq!(count, 3);
    // The data offset, from the moof start, lands on the first sample byte in the mdat.
    let first_sample = moof.offset as usize + data_offset as usize;
    assert_eq!(first_sample as u64, top[2].offset + 8);
    assert_eq!(&out[first_sample..], &payload[..]);
    assert_eq!(top[2].body, &payload[..]);
    assert_eq!(
        recs,
        vec![
            (3_000, avc(&aus[0]).len() as u32, 0x0200_0000, 1_500),
            (3_000, avc(&aus[1]).len() as u32, 0x0101_0000, -1_500),
            (3_000, avc(&aus[2]).len() as u32, 0x0101_0000, 0),
        ]
    );
}

#[test]
fn last_sample_duration_rules() {
    let durations = |dts: &[i64], next: Option<i64>| {
        let mut b = FragmentBuilder::new();
        for &d in dts {
            b.push(&mut au(&[b"\x41x"], false), d, d);
        }
        let mut out = Vec::new();
        b.write_to(&mut out, next, None).expect("write");
        let moof = BoxIter::new(&out, 0).next().unwrap().unwrap();
        assert_eq!(&moof.fourcc, b"moof", "no prft without a wall clock");
        trun_records(moof.body)
            .2
            .iter()
            .map(|r| r.0)
            .collect::<Vec<_>>()
    };
    assert_eq!(durations(&[0, 3600, 7200], Some(9000)), [3600, 3600, 1800]);
    assert_eq!(durations(&[0, 3600, 9000], None), [3600, 5400, 5400]);
    assert_eq!(durations(&[500], None), [0]);
    assert_eq!(durations(&[500], Some(4100)), [3600]);
    // A decreasing dts is clamped to a zero duration rather than wrapping.
    assert_eq!(durations(&[0, 3600, 1000], Some(4600)), [3600, 0, 3600]);
}

#[test]
fn sequence_numbers_and_decode_times_across_fragments() {
    let mut b = FragmentBuilder::new();
    let mut out = Vec::new();
    let origin = 7_000_000_000i64; // an extended RTP timestamp far from 0
    for frag in 0..3i64 {
        for i in 0..5i64 {
            let dts = origin + (frag * 5 + i) * 3600;
            b.push(&mut au(&[b"\x65k", b"\x41p"], i == 0), dts, dts);
        }
        b.write_to(&mut out, Some(origin + (frag + 1) * 5 * 3600), None)
            .expect("write");
    }
    assert_eq!(b.origin_dts(), Some(origin));
    let scan = scan_fragments(&mut Cursor::new(&out)).expect("scan");
    let seq: Vec<_> = scan.fragments.iter().map(|f| f.sequence_number).collect();
    let tfdt: Vec<_> = scan.fragments.iter().map(|f| f.base_decode_time).collect();
    assert_eq!(seq, [1, 2, 3]);
    assert_eq!(tfdt, [0, 18_000, 36_000]);
    assert!(
        scan.fragments
            .iter()
            .all(|f| f.first_is_keyframe && f.duration == 18_000)
    );
    assert_eq!(base_decode_time(origin + 10, origin), 10);
    assert_eq!(base_decode_time(origin - 10, origin), 0);
}

#[test]
fn push_moves_pieces_without_copying() {
    let mut a = au(&[b"\x65slice bytes here", b"\x06sei"], true);
    let ptrs: Vec<*const u8> = a.pieces.iter().map(|p| p.as_ptr()).collect();
    let mut b = FragmentBuilder::new();
    b.push(&mut a, 0, 0);
    assert_eq!(b.piece_ptrs(), ptrs);

    // Out-of-order ranges take the clone path: still the same memory, in NAL order.
    let mut a = au(&[b"\x41first", b"\x41second"], false);
    a.nals.swap(0, 1);
    let expected: Vec<*const u8> = [2, 3, 0, 1].iter().map(|&i| a.pieces[i].as_ptr()).collect();
    let mut b = FragmentBuilder::new();
    b.push(&mut a, 0, 0);
    assert_eq!(b.piece_ptrs(), expected);
}

#[test]
fn odd_access_units_still_match_their_table() {
    let mut a = au(&[b"\x41abc", b"\x41de"], false);
    a.nals[0].len = 999; // wrong length claim: the pieces decide
    a.nals.push(NalRef {
        header: 0x41,
        len: 4,
        pieces: 7..9, // out of range: clamped to nothing
    });
    a.pieces.push(Bytes::from_static(b"unreferenced"));
    let mut b = FragmentBuilder::new();
    b.push(&mut a, 0, 0);
    b.push(&mut AccessUnit::default(), 3600, 3600); // no NAL units at all: a 0-byte sample
    let mut out = Vec::new();
    b.write_to(&mut out, Some(7200), None).expect("write");
    let top: Vec<_> = BoxIter::new(&out, 0)
        .collect::<Result<_, _>>()
        .expect("walk");
    assert_eq!(top[1].body, b"\0\0\0\x04\x41abc\0\0\0\x03\x41de");
    let (_, _, recs) = trun_records(top[0].body);
    assert_eq!(recs.iter().map(|r| r.1).collect::<Vec<_>>(), [15, 0]);
}

#[test]
fn buffers_are_reused_once_warm() {
    let mut b = FragmentBuilder::new();
    let mut out = Vec::with_capacity(1 << 16);
    let fill = |b: &mut FragmentBuilder, base: i64| {
        for i in 0..25 {
            b.push(
                &mut au(&[b"\x41slice", b"\x06sei"], i == 0),
                base + i * 3600,
                base + i * 3600,
            );
        }
    };
    fill(&mut b, 0);
    b.write_to(&mut out, None, Some(1)).expect("write");
    let warm = b.buffer_ptrs();
    let (cap, empty) = b.slices_state();
    assert!(cap > 25 * 4 && empty, "IoSlice array kept, empty");
    for k in 1..4 {
        fill(&mut b, k * 90_000);
        b.write_to(&mut out, None, Some(1)).expect("write");
        assert_eq!(b.buffer_ptrs(), warm);
    }
}

/// Accepts at most `max` bytes per call and fails every third call with `Interrupted`.
struct Dribble {
    out: Vec<u8>,
    max: usize,
    calls: usize,
}

impl Write for Dribble {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls.is_multiple_of(3) {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let mut left = self.max;
        for b in bufs {
            let n = b.len().min(left);
            self.out.extend_from_slice(&b[..n]);
            left -= n;
            if left == 0 {
                break;
            }
        }
        Ok(self.max - left)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn partial_writes_and_interrupts_are_handled() {
    let make = || {
        let mut b = FragmentBuilder::new();
        for i in 0..10 {
            b.push(
                &mut au(&[b"\x65some slice data", b"\x41x"], i == 0),
                i * 3600,
                i * 3600,
            );
        }
        b
    };
    let mut whole = Vec::new();
    make()
        .write_to(&mut whole, Some(36_000), Some(42))
        .expect("write");
    let mut d = Dribble {
        out: Vec::new(),
        max: 7,
        calls: 0,
    };
    let n = make()
        .write_to(&mut d, Some(36_000), Some(42))
        .expect("write");
    assert_eq!(n as usize, whole.len());
    assert_eq!(d.out, whole);
    assert!(d.calls > whole.len() / 7);
}

#[test]
fn write_errors_keep_the_samples() {
    struct Broken;
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut b = FragmentBuilder::new();
    b.push(&mut au(&[b"\x65k"], true), 0, 0);
    let e = b.write_to(&mut Broken, None, None).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
    assert_eq!((b.len(), b.sequence_number()), (1, 1));
    let mut zero: &mut [u8] = &mut [];
    let e = b.write_to(&mut zero, None, None).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::WriteZero);
    let mut out = Vec::new();
    assert!(b.write_to(&mut out, None, None).expect("retry") > 0);
    assert_eq!(b.sequence_number(), 2);
    assert_eq!(b.write_to(&mut out, None, None).expect("empty"), 0);
}

#[test]
fn fragments_over_4_gib_are_refused() {
    // 4097 NAL units referencing the same 1 MiB buffer: 4 GiB of payload, 1 MiB of memory.
    let mib = Bytes::from(vec![0x41u8; 1 << 20]);
    let mut a = AccessUnit::default();
    for i in 0..4097u32 {
        a.pieces.push(mib.clone());
        a.nals.push(NalRef {
            header: 0x41,
            len: 1 << 20,
            pieces: i..i + 1,
        });
    }
    let mut b = FragmentBuilder::new();
    b.push(&mut a, 0, 0);
    let mut out = Vec::new();
    let e = b.write_to(&mut out, None, Some(1)).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    assert!(out.is_empty());
    assert_eq!(b.len(), 1);
    b.clear();
    assert!(b.is_empty());
}

/// Init segment plus `n` fragments of `per` frames; returns the file and each fragment's end.
fn recording(n: usize, per: usize) -> (Vec<u8>, Vec<u64>, Vec<Vec<u8>>) {
    let mut file = Vec::new();
    write_init_segment(&track(), &mut file);
    let mut ends = vec![file.len() as u64];
    let mut samples = Vec::new();
    let mut b = FragmentBuilder::new();
    let mut dts = 123_456i64;
    for f in 0..n {
        for i in 0..per {
            let body = format!("frame {f}/{i} {}", "x".repeat(i * 7 % 50));
            let mut a = if i == 0 {
                au(
                    &[
                        b"\x67sps",
                        b"\x68pps",
                        &[b"\x65".as_slice(), body.as_bytes()].concat(),
                    ],
                    true,
                )
            } else {
                au(&[&[b"\x41".as_slice(), body.as_bytes()].concat()], false)
            };
            samples.push(avc(&a));
            b.push(&mut a, dts, dts);
            dts += 3600;
        }
        let ntp = (3_900_000_000u64 + f as u64) << 32;
        b.write_to(&mut file, Some(dts), Some(ntp)).expect("write");
        ends.push(file.len() as u64);
    }
    (file, ends, samples)
}

#[test]
fn reader_round_trip() {
    let (file, ends, samples) = recording(4, 6);
    let mut c = Cursor::new(&file);
    let scan = scan_fragments(&mut c).expect("scan");
    assert!(scan.tail_error.is_none());
    assert!(!scan.is_torn());
    assert_eq!(scan.valid_len, file.len() as u64);
    assert_eq!(scan.init_end, Some(ends[0]));
    assert_eq!(scan.track, Some(track().into()));
    assert_eq!(scan.defaults.track_id, TRACK_ID);
    assert_eq!(scan.fragments.len(), 4);
    assert_eq!(scan.duration(), 24 * 3600);
    for (i, f) in scan.fragments.iter().enumerate() {
        assert_eq!(f.offset, ends[i]);
        assert_eq!(f.end, ends[i + 1]);
        assert_eq!(f.moof_offset, f.offset + 32);
        assert_eq!(f.sequence_number, i as u32 + 1);
        assert_eq!(f.base_decode_time, i as u64 * 6 * 3600);
        assert_eq!((f.sample_count, f.duration), (6, 6 * 3600));
        assert!(f.first_is_keyframe);
        assert_eq!(f.ntp, Some((3_900_000_000u64 + i as u64) << 32));
        assert_eq!(f.ntp_media_time, Some(f.base_decode_time));
    }

    assert_eq!(read_init(&mut c).expect("init"), track().into());
    let mut all = Vec::new();
    let mut buf = Vec::new();
    for f in &scan.fragments {
        let table = read_fragment_samples(&mut c, f, &scan.defaults).expect("samples");
        assert_eq!(table.len(), 6);
        assert!(table[0].is_keyframe() && table[1..].iter().all(|s| !s.is_keyframe()));
        assert_eq!(table[0].offset, f.mdat_offset + 8);
        for (i, s) in table.iter().enumerate() {
            assert_eq!(s.decode_time, f.base_decode_time + i as u64 * 3600);
            assert_eq!(s.presentation_time(), s.decode_time as i64);
            read_sample(&mut c, s, &mut buf).expect("sample");
            all.push(buf.clone());
        }
    }
    assert_eq!(all, samples);
}

#[test]
fn torn_tails_fall_back_to_the_previous_fragment() {
    let (file, ends, _) = recording(3, 4);
    let prev = ends[2];
    for cut in prev..file.len() as u64 {
        let scan = scan_fragments(&mut Cursor::new(&file[..cut as usize])).expect("scan");
        assert_eq!(scan.valid_len, prev, "cut at {cut}");
        assert_eq!(scan.fragments.len(), 2, "cut at {cut}");
        assert_eq!(scan.is_torn(), cut > prev);
    }
    // Inside the init segment: nothing valid after the ftyp.
    for cut in 0..ends[0] {
        let scan = scan_fragments(&mut Cursor::new(&file[..cut as usize])).expect("scan");
        assert!(scan.valid_len <= cut && scan.fragments.is_empty());
        assert!(scan.init_end.is_none());
    }
    // Garbage appended after complete fragments is cut off too.
    let mut g = file.clone();
    g.extend_from_slice(&[0, 0, 0, 3, b'j', b'u', b'n', b'k', 9, 9]);
    let scan = scan_fragments(&mut Cursor::new(&g)).expect("scan");
    assert_eq!(scan.valid_len, file.len() as u64);
    assert!(scan.tail_error.as_ref().is_some_and(Fmp4Error::is_damage));
    // A trailing free box is complete data.
    let mut g = file.clone();
    g.extend_from_slice(b"\0\0\0\x08free");
    let scan = scan_fragments(&mut Cursor::new(&g)).expect("scan");
    assert_eq!((scan.valid_len, scan.fragments.len()), (g.len() as u64, 3));
}

#[test]
fn moof_without_mdat_in_the_middle_stops_the_scan() {
    let (file, ends, _) = recording(3, 2);
    // Drop the mdat of fragment 2 (keep its prft+moof), then fragment 3.
    let f2 = scan_fragments(&mut Cursor::new(&file))
        .expect("scan")
        .fragments[1]
        .clone();
    let mut g = file[..f2.mdat_offset as usize].to_vec();
    g.extend_from_slice(&file[ends[2] as usize..]);
    let scan = scan_fragments(&mut Cursor::new(&g)).expect("scan");
    assert_eq!(scan.fragments.len(), 1);
    assert_eq!(scan.valid_len, ends[1]);
    assert!(scan.tail_error.is_some());
}

#[test]
fn largesize_and_size_zero_mdat_are_read() {
    // Rewrite one fragment's mdat header as a 64-bit largesize, and as size 0 (to the end).
    let (file, ends, _) = recording(1, 3);
    let f = scan_fragments(&mut Cursor::new(&file))
        .expect("scan")
        .fragments[0]
        .clone();
    let m = f.mdat_offset as usize;
    let mdat_len = file.len() - m;

    let mut zero = file.clone();
    zero[m..m + 4].copy_from_slice(&[0, 0, 0, 0]);
    let scan = scan_fragments(&mut Cursor::new(&zero)).expect("scan");
    assert_eq!((scan.fragments.len(), scan.valid_len), (1, ends[1]));

    // largesize moves the payload 8 bytes later: the trun data offset must follow.
    let mut large = file[..m].to_vec();
    large.extend_from_slice(&1u32.to_be_bytes());
    large.extend_from_slice(b"mdat");
    large.extend_from_slice(&(mdat_len as u64 + 8).to_be_bytes());
    large.extend_from_slice(&file[m + 8..]);
    let scan = scan_fragments(&mut Cursor::new(&large)).expect("scan");
    // The unpatched data offset now points 8 bytes early, into the mdat header.
    assert!(scan.fragments.is_empty());
    assert!(scan.tail_error.is_some());
    let trun_off = find_string(&large, b"trun") + 4 + 8;
    let off = be32(&large, trun_off) + 8;
    large[trun_off..trun_off + 4].copy_from_slice(&off.to_be_bytes());
    let scan = scan_fragments(&mut Cursor::new(&large)).expect("scan");
    assert_eq!(
        (scan.fragments.len(), scan.valid_len),
        (1, large.len() as u64)
    );
}

fn find_string(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len())
        .position(|w| w == needle)
        .expect("present")
}

/// xorshift64*: deterministic noise without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Runs every reader entry point; only panics matter.
fn read_everything(data: &[u8]) {
    let mut c = Cursor::new(data);
    for b in BoxIter::new(data, 0).take(10_000).flatten() {
        let _ = BoxIter::new(b.body, b.offset).take(10_000).count();
    }
    let _ = read_init(&mut c);
    if let Some(moov) = BoxIter::new(data, 0)
        .flatten()
        .find(|b| &b.fourcc == b"moov")
    {
        let _ = parse_moov_audio(moov.body, moov.offset + 8);
    }
    if let Ok(scan) = scan_fragments(&mut c) {
        assert!(scan.valid_len <= data.len() as u64);
        let mut buf = Vec::new();
        for f in &scan.fragments {
            assert!(f.end <= scan.valid_len);
            if let Ok(table) = read_fragment_samples(&mut c, f, &scan.defaults) {
                for s in table.iter().take(100) {
                    let _ = read_sample(&mut c, s, &mut buf);
                }
            }
            for a in scan.audio.iter().take(4) {
                if let Ok(table) = read_track_samples(&mut c, f, a.track_id, &a.defaults) {
                    for s in table.iter().take(100) {
                        let _ = read_sample(&mut c, s, &mut buf);
                    }
                }
            }
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..3000 {
        let len = rng.below(300);
        let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        read_everything(&data);
    }
    // Box-shaped noise: plausible sizes and known types, random bodies.
    let types: [&[u8; 4]; 10] = [
        b"ftyp", b"moov", b"trak", b"moof", b"traf", b"trun", b"mdat", b"prft", b"tfhd", b"tfdt",
    ];
    for _ in 0..3000 {
        let mut data = Vec::new();
        for _ in 0..rng.below(6) {
            let body = rng.below(64);
            let size = if rng.below(10) == 0 {
                rng.next() as u32
            } else {
                8 + body as u32
            };
            data.extend_from_slice(&size.to_be_bytes());
            data.extend_from_slice(types[rng.below(types.len())]);
            data.extend((0..body).map(|_| rng.next() as u8));
        }
        read_everything(&data);
    }
}

#[test]
fn mutated_recordings_never_panic() {
    let (file, _, _) = recording(3, 5);
    let (av, _, _) = av_recording(3, 2);
    let mut rng = Rng(12345);
    for round in 0..6000 {
        let file = if round % 3 == 0 { &av } else { &file };
        let mut g = file.clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(g.len());
            g[at] = if round % 2 == 0 {
                rng.next() as u8
            } else {
                g[at] ^ 0xff
            };
        }
        if rng.below(4) == 0 {
            g.truncate(rng.below(g.len()));
        }
        read_everything(&g);
    }
}

/// Three fragments of 6 samples (keyframe first); `marks` sets (global sample index, loss,
/// damaged).
fn lossy_recording(marks: &[(usize, u32, bool)]) -> Vec<u8> {
    let mut file = Vec::new();
    write_init_segment(&track(), &mut file);
    let mut b = FragmentBuilder::new();
    let mut dts = 0i64;
    for f in 0..3 {
        for i in 0..6 {
            let n = f * 6 + i;
            let mut a = if i == 0 {
                au(&[b"\x67sps", b"\x68pps", b"\x65idr"], true)
            } else {
                au(&[b"\x41p-slice"], false)
            };
            if let Some(&(_, loss, damaged)) = marks.iter().find(|m| m.0 == n) {
                a.loss = loss;
                a.damaged = damaged;
            }
            b.push(&mut a, dts, dts);
            dts += 3600;
        }
        b.write_to(&mut file, Some(dts), Some(3_900_000_000u64 << 32))
            .expect("write");
    }
    file
}

#[test]
fn loss_table_round_trips_and_names_damaged_ranges() {
    // Sample 2 follows 3 lost packets; sample 3 lost a slice; sample 8 follows 1 lost packet;
    // sample 12 (a keyframe) follows 2 lost packets (whole pictures lost just before it).
    let file = lossy_recording(&[(2, 3, false), (3, 0, true), (8, 1, false), (12, 2, false)]);
    let mut c = Cursor::new(&file);
    let scan = scan_fragments(&mut c).expect("scan");
    assert!(scan.tail_error.is_none());
    let lost: Vec<(u64, u32)> = scan
        .fragments
        .iter()
        .map(|f| (f.lost_packets, f.damaged_samples))
        .collect();
    assert_eq!(lost, [(3, 1), (1, 0), (2, 0)]);
    let mut flags = Vec::new();
    for f in &scan.fragments {
        for s in read_fragment_samples(&mut c, f, &scan.defaults).expect("samples") {
            flags.push((s.lost_packets, s.damaged));
        }
    }
    assert_eq!(flags.len(), 18);
    assert_eq!(flags[2], (3, false));
    assert_eq!(flags[3], (0, true));
    assert_eq!(flags[8], (1, false));
    assert_eq!(flags[12], (2, false));
    assert_eq!(flags.iter().filter(|f| **f != (0, false)).count(), 4);
    // Damage: from sample 2 to the keyframe at 6; from 8 to the keyframe at 12, which also
    // counts the packets lost right before that keyframe (they fall inside the span).
    let t = |n: i64| n * 3600;
    let spans: Vec<(i64, i64, u64, u64)> = scan
        .damage
        .iter()
        .map(|d| (d.start, d.end, d.lost_packets, d.damaged_samples))
        .collect();
    assert_eq!(spans, [(t(2), t(6), 3, 1), (t(8), t(12), 3, 0)]);
    // Whole pictures lost right before a keyframe, with no damage open: the span is the
    // previous sample's time, where those pictures are missing.
    let file = lossy_recording(&[(12, 2, false)]);
    let scan = scan_fragments(&mut Cursor::new(&file)).expect("scan");
    let spans: Vec<(i64, i64, u64)> = scan
        .damage
        .iter()
        .map(|d| (d.start, d.end, d.lost_packets))
        .collect();
    assert_eq!(spans, [(t(11), t(12), 2)]);
}

#[test]
fn clean_fragments_carry_no_loss_table() {
    let clean = lossy_recording(&[]);
    assert!(!clean.windows(16).any(|w| w == LOSS_BOX_UUID));
    let lossy = lossy_recording(&[(8, 1, false)]);
    // One loss table of one entry: 32 + 12 bytes more, in the second fragment only.
    assert_eq!(lossy.len(), clean.len() + 44);
    assert!(lossy.windows(16).any(|w| w == LOSS_BOX_UUID));
    let scan = scan_fragments(&mut Cursor::new(&clean)).expect("scan");
    assert!(scan.damage.is_empty());
    assert!(scan.fragments.iter().all(|f| f.lost_packets == 0));
}

#[test]
fn loss_table_with_a_lying_count_is_an_error_not_a_panic() {
    let mut file = lossy_recording(&[(8, 1, false)]);
    let at = find_string(&file, &LOSS_BOX_UUID);
    // entry_count sits after the usertype and version/flags.
    file[at + 20..at + 24].copy_from_slice(&1000u32.to_be_bytes());
    let scan = scan_fragments(&mut Cursor::new(&file)).expect("scan");
    assert_eq!(
        scan.fragments.len(),
        1,
        "the scan stops at the damaged fragment"
    );
    assert!(scan.tail_error.is_some());
}

/// An H.265 track (Dahua parameter sets): `hvc1` with `hvcC`, read back as written; the codec
/// string comes from the record.
#[test]
fn hevc_init_round_trip() {
    use crate::h265::tests::{DAHUA_PPS, DAHUA_SPS, DAHUA_VPS};
    let cfg = crate::h265::HevcDecoderConfig::from_parameter_sets(DAHUA_VPS, DAHUA_SPS, DAHUA_PPS)
        .expect("hvcC");
    let track = VideoConfig {
        codec: VideoCodec::H265,
        width: cfg.sps_info().width(),
        height: cfg.sps_info().height(),
        timescale: 90_000,
        config: cfg.to_bytes().expect("bytes"),
    };
    let mut file = Vec::new();
    write_video_init(&track, &mut file);
    let top: Vec<_> = BoxIter::new(&file, 0)
        .collect::<Result<_, _>>()
        .expect("walk");
    let stsd =
        find_path(top[1].body, &[b"trak", b"mdia", b"minf", b"stbl", b"stsd"]).expect("stsd");
    let entry = BoxIter::new(&stsd[8..], 0)
        .next()
        .expect("entry")
        .expect("entry");
    assert_eq!(&entry.fourcc, b"hvc1");
    let hvcc = BoxIter::new(&entry.body[78..], 0)
        .next()
        .expect("hvcC")
        .expect("hvcC");
    assert_eq!(&hvcc.fourcc, b"hvcC");
    assert_eq!(hvcc.body, &track.config[..]);
    let back = read_init(&mut Cursor::new(&file)).expect("read");
    assert_eq!(back, track);
    assert_eq!(back.codec_string(), Some(cfg.codec_string()));

    // The H.264 codec string from an avcC.
    let h264: VideoConfig = self::track().into();
    assert_eq!(h264.codec_string().as_deref(), Some("avc1.42c01e"));
    // A record too short for either: no string, no panic.
    let short = VideoConfig {
        config: vec![1],
        ..back
    };
    assert_eq!(short.codec_string(), None);
}

// ---- audio tracks ----------------------------------------------------------------------

use crate::rtp::audio::AudioFrame;

/// AAC-LC 16 kHz mono (ASC 0x1408) and G.711 µ-law 8 kHz mono.
fn audio_configs() -> [AudioConfig; 2] {
    [
        AudioConfig {
            codec: AudioCodec::Aac,
            timescale: 16_000,
            sample_rate: 16_000,
            channels: 1,
            config: vec![0x14, 0x08],
        },
        AudioConfig {
            codec: AudioCodec::Pcmu,
            timescale: 8000,
            sample_rate: 8000,
            channels: 1,
            config: Vec::new(),
        },
    ]
}

fn audio_frame(bytes: &[u8], samples: u32, loss: u32) -> AudioFrame {
    let b = Bytes::copy_from_slice(bytes);
    let cut = b.len() / 2;
    AudioFrame {
        timestamp: 0,
        samples,
        // Two pieces, as an AAC AU fragmented over two packets arrives.
        pieces: vec![b.slice(..cut), b.slice(cut..)],
        loss,
    }
}

#[test]
fn av_init_layout() {
    let video: VideoConfig = track().into();
    let audio = audio_configs();
    let mut only = Vec::new();
    write_video_init(&video, &mut only);
    let mut same = Vec::new();
    write_av_init(&video, &[], &mut same);
    assert_eq!(only, same, "video-only init is write_av_init without audio");

    let mut file = Vec::new();
    write_av_init(&video, &audio, &mut file);
    let top: Vec<_> = BoxIter::new(&file, 0)
        .collect::<Result<_, _>>()
        .expect("walk");
    let moov = top[1].body;
    let kids: Vec<_> = BoxIter::new(moov, 0).map(|b| b.expect("box")).collect();
    let names: Vec<[u8; 4]> = kids.iter().map(|b| b.fourcc).collect();
    assert_eq!(names, [*b"mvhd", *b"trak", *b"trak", *b"trak", *b"mvex"]);
    // mvhd next_track_ID (last field) = 4.
    let mvhd = kids[0].body;
    assert_eq!(be32(mvhd, mvhd.len() - 4), 4);
    // The video trak is byte for byte the video-only file's.
    let only_trak = find_path(
        BoxIter::new(&only, 0).nth(1).unwrap().unwrap().body,
        &[b"trak"],
    )
    .expect("trak");
    assert_eq!(kids[1].body, only_trak);

    for (lane, (trak, cfg)) in kids[2..4].iter().zip(&audio).enumerate() {
        let id = audio_track_id(lane);
        assert_eq!(id, 2 + lane as u32);
        let tkhd = find_child(trak.body, b"tkhd").expect("tkhd");
        assert_eq!(be32(tkhd, 12), id);
        assert_eq!(&tkhd[36..38], &[1, 0], "volume 1.0");
        assert_eq!(&tkhd[76..84], &[0; 8], "no width or height");
        let mdhd = find_path(trak.body, &[b"mdia", b"mdhd"]).expect("mdhd");
        assert_eq!(be32(mdhd, 12), cfg.timescale);
        let hdlr = find_path(trak.body, &[b"mdia", b"hdlr"]).expect("hdlr");
        assert_eq!(&hdlr[8..12], b"soun");
        let minf = find_path(trak.body, &[b"mdia", b"minf"]).expect("minf");
        let names: Vec<[u8; 4]> = BoxIter::new(minf, 0)
            .map(|b| b.expect("box").fourcc)
            .collect();
        assert_eq!(names, [*b"smhd", *b"dinf", *b"stbl"]);
        let stsd = find_path(minf, &[b"stbl", b"stsd"]).expect("stsd");
        assert_eq!(be32(stsd, 4), 1);
        let entry = BoxIter::new(&stsd[8..], 0)
            .next()
            .expect("entry")
            .expect("entry");
        assert_eq!(&entry.fourcc, cfg.codec.sample_entry());
        // AudioSampleEntry: channelcount at 16, samplesize 18, samplerate (16.16) at 24.
        assert_eq!(&entry.body[6..8], &[0, 1], "data_reference_index");
        assert_eq!(&entry.body[16..18], &[0, 1], "mono");
        assert_eq!(&entry.body[18..20], &[0, 16], "samplesize");
        assert_eq!(be32(entry.body, 24), cfg.sample_rate << 16);
        match cfg.codec {
            AudioCodec::Aac => {
                let esds = find_child(&entry.body[28..], b"esds").expect("esds");
                let asc = crate::rtp::aac::AudioSpecificConfig::parse(&cfg.config).expect("asc");
                assert_eq!(esds, crate::rtp::aac::esds_body(&asc, id as u16, 0));
            }
            _ => assert_eq!(entry.body.len(), 28, "G.711: no child box"),
        }
    }
    let trex: Vec<u32> = BoxIter::new(kids[4].body, 0)
        .map(|b| be32(b.expect("trex").body, 4))
        .collect();
    assert_eq!(trex, [1, 2, 3]);
    // The video reader still finds the video (first trak), as before.
    assert_eq!(read_init(&mut Cursor::new(&file)).expect("read"), video);

    // A sample rate over 16.16's range is written as 0.
    let hi = AudioConfig {
        sample_rate: 96_000,
        timescale: 96_000,
        ..audio[0].clone()
    };
    let mut file = Vec::new();
    write_av_init(&video, &[hi], &mut file);
    let at = find_string(&file, b"mp4a");
    assert_eq!(be32(&file, at + 4 + 24), 0);
}

#[test]
fn av_fragment_layout_offsets_durations_and_loss() {
    let mut b = FragmentBuilder::new();
    b.set_audio_tracks(2);
    let video = [
        au(&[b"\x67sps", b"\x65idr-slice"], true),
        au(&[b"\x41p"], false),
    ];
    let aac: [&[u8]; 3] = [b"aac-au-0", b"aac-au-1-longer", b"au2"];
    let ulaw: [&[u8]; 2] = [&[0x7f; 160], &[0xff; 80]];
    let mut v_payload = Vec::new();
    for (i, a) in video.iter().enumerate() {
        v_payload.extend(avc(a));
        b.push(
            &mut a.clone(),
            90_000 + 3600 * i as i64,
            90_000 + 3600 * i as i64,
        );
    }
    // AAC: 1024 apart, then a hole of one frame before the third; it follows 1 lost packet.
    for (i, (bytes, t)) in aac.iter().zip([16_000u64, 17_024, 19_072]).enumerate() {
        let mut f = audio_frame(bytes, 1024, u32::from(i == 2));
        let ptrs: Vec<_> = f.pieces.iter().map(|p| p.as_ptr()).collect();
        b.push_audio(0, &mut f, t);
        assert!(
            f.pieces.is_empty() && f.pieces.capacity() >= 2,
            "moved out, capacity kept"
        );
        assert_eq!(ptrs.len(), 2);
    }
    for (bytes, t) in ulaw.iter().zip([8000u64, 8160]) {
        b.push_audio(1, &mut audio_frame(bytes, bytes.len() as u32, 0), t);
    }
    // A lane the file does not have: dropped, no panic.
    let mut stray = audio_frame(b"stray", 5, 0);
    b.push_audio(7, &mut stray, 0);
    assert!(stray.pieces.is_empty());
    assert_eq!((b.audio_len(0), b.audio_len(1), b.audio_len(7)), (3, 2, 0));
    assert_eq!(b.audio_payload_bytes(), 8 + 15 + 3 + 160 + 80);

    let mut out = Vec::new();
    let n = b
        .write_to(&mut out, Some(90_000 + 7200), None)
        .expect("write");
    assert_eq!(n, out.len() as u64);
    assert_eq!(
        (b.audio_len(0), b.audio_len(1), b.audio_payload_bytes()),
        (0, 0, 0)
    );
    let top: Vec<_> = BoxIter::new(&out, 0)
        .collect::<Result<_, _>>()
        .expect("walk");
    let names: Vec<_> = top.iter().map(|b| b.fourcc).collect();
    assert_eq!(names, [*b"moof", *b"mdat"], "one moof, one mdat");
    let (moof, mdat) = (&top[0], &top[1]);
    let trafs: Vec<_> = BoxIter::new(moof.body, moof.offset + 8)
        .map(|b| b.expect("box"))
        .filter(|b| &b.fourcc == b"traf")
        .collect();
    assert_eq!(trafs.len(), 3);
    // The video traf is what a video-only fragment has.
    let (count, off, _) = trun_records(moof.body);
    assert_eq!(count, 2);
    assert_eq!(moof.offset + off as u64, mdat.offset + 8);
    let mut expect_data = v_payload.clone();
    /// Per lane: its frames, tfdt, sample durations.
    type Lane<'a> = (&'a [&'a [u8]], u64, Vec<u32>);
    let lanes: [Lane<'_>; 2] = [
        (&aac, 16_000, vec![1024, 2048, 1024]),
        (&ulaw, 8000, vec![160, 80]),
    ];
    let mut at = mdat.offset + 8 + v_payload.len() as u64;
    for (lane, (traf, (frames, tfdt, durations))) in trafs[1..].iter().zip(&lanes).enumerate() {
        let tfhd = find_child(traf.body, b"tfhd").expect("tfhd");
        assert_eq!(
            be32(tfhd, 0),
            0x02_0020,
            "default-base-is-moof, default flags"
        );
        assert_eq!(be32(tfhd, 4), audio_track_id(lane));
        assert_eq!(
            be32(tfhd, 8),
            KEYFRAME_SAMPLE_FLAGS,
            "every audio frame is sync"
        );
        let t = find_child(traf.body, b"tfdt").expect("tfdt");
        assert_eq!(
            (t[0], be64(t, 4)),
            (1, *tfdt),
            "tfdt v1 = the lane's first decode time"
        );
        let trun = find_child(traf.body, b"trun").expect("trun");
        assert_eq!(be32(trun, 0), 0x301);
        assert_eq!(be32(trun, 4) as usize, frames.len());
        assert_eq!(
            moof.offset + u64::from(be32(trun, 8)),
            at,
            "lane {lane} data offset"
        );
        let recs: Vec<(u32, u32)> = (0..frames.len())
            .map(|i| (be32(trun, 12 + 8 * i), be32(trun, 16 + 8 * i)))
            .collect();
        let want: Vec<(u32, u32)> = frames
            .iter()
            .zip(durations)
            .map(|(f, &d)| (d, f.len() as u32))
            .collect();
        assert_eq!(recs, want);
        for f in frames.iter() {
            let s = (at - mdat.offset) as usize;
            assert_eq!(&mdat.body[s - 8..s - 8 + f.len()], *f);
            at += f.len() as u64;
            expect_data.extend_from_slice(f);
        }
    }
    assert_eq!(
        mdat.body,
        &expect_data[..],
        "video, then lane 0, then lane 1"
    );
    // Loss: an entry for AAC sample 2 in lane 0's traf only.
    let loss = find_child(trafs[1].body, b"uuid").expect("loss table");
    assert_eq!(&loss[..16], &LOSS_BOX_UUID);
    assert_eq!(be32(loss, 20), 1);
    assert_eq!((be32(loss, 24), be32(loss, 28), be32(loss, 32)), (2, 1, 0));
    assert!(find_child(trafs[0].body, b"uuid").is_none());
    assert!(find_child(trafs[2].body, b"uuid").is_none());
}

#[test]
fn no_audio_pushed_writes_what_a_video_only_builder_writes() {
    let run = |lanes: Option<usize>| {
        let mut b = FragmentBuilder::new();
        if let Some(n) = lanes {
            b.set_audio_tracks(n);
        }
        let mut out = Vec::new();
        for f in 0..3i64 {
            for i in 0..5 {
                let mut a = au(&[b"\x41slice", b"\x06sei"], i == 0);
                a.loss = u32::from(i == 3);
                b.push(&mut a, f * 18_000 + i * 3600, f * 18_000 + i * 3600);
            }
            b.write_to(&mut out, Some((f + 1) * 18_000), Some(7))
                .expect("write");
        }
        out
    };
    let plain = run(None);
    assert_eq!(run(Some(2)), plain);
    assert_eq!(run(Some(0)), plain);
}

#[test]
fn audio_waits_for_video_and_clear_drops_it() {
    let mut b = FragmentBuilder::new();
    b.set_audio_tracks(1);
    b.push_audio(0, &mut audio_frame(b"abcd", 1024, 0), 0);
    let mut out = Vec::new();
    assert_eq!(b.write_to(&mut out, None, Some(1)).expect("write"), 0);
    assert!(out.is_empty());
    assert_eq!(b.audio_len(0), 1, "audio alone waits for the next video");
    assert_eq!(b.sequence_number(), 1);
    b.clear();
    assert_eq!(
        (b.audio_len(0), b.audio_payload_bytes(), b.audio_tracks()),
        (0, 0, 1)
    );
    // After clear, a fragment without audio is video only.
    b.push(&mut au(&[b"\x65idr"], true), 0, 0);
    b.write_to(&mut out, Some(3600), None).expect("write");
    let moof = BoxIter::new(&out, 0).next().unwrap().unwrap();
    assert_eq!(
        BoxIter::new(moof.body, 0)
            .filter(|b| b.as_ref().is_ok_and(|b| &b.fourcc == b"traf"))
            .count(),
        1
    );
}

#[test]
fn audio_buffers_are_reused_once_warm() {
    let mut b = FragmentBuilder::new();
    b.set_audio_tracks(2);
    let mut out = Vec::with_capacity(1 << 16);
    let mut frame = AudioFrame::default();
    let fill = |b: &mut FragmentBuilder, frame: &mut AudioFrame, base: i64| {
        for i in 0..25 {
            b.push(
                &mut au(&[b"\x41slice"], i == 0),
                base + i * 3600,
                base + i * 3600,
            );
            for lane in 0..2 {
                frame.samples = 160;
                frame.pieces.push(Bytes::from_static(&[0xd5; 160]));
                b.push_audio(lane, frame, (base + i * 3600) as u64 / 90 * 8);
            }
        }
    };
    fill(&mut b, &mut frame, 0);
    b.write_to(&mut out, None, None).expect("write");
    let warm = (b.buffer_ptrs(), b.audio_buffer_ptrs());
    for k in 1..4 {
        fill(&mut b, &mut frame, k * 90_000);
        b.write_to(&mut out, None, None).expect("write");
        assert_eq!((b.buffer_ptrs(), b.audio_buffer_ptrs()), warm);
    }
}

/// Video (`per` seconds per fragment, 25 fps) + AAC (lane 0, 16 kHz, 1024 per AU) + PCMA
/// (lane 1, 8 kHz, 160 per packet, packet 7 lost) in `n` fragments; returns the file, the
/// video samples (avc bytes) and each lane's frames as (decode time, bytes).
#[allow(clippy::type_complexity)]
fn av_recording(n: usize, per: usize) -> (Vec<u8>, Vec<Vec<u8>>, [Vec<(u64, Vec<u8>)>; 2]) {
    let audio = audio_configs();
    let pcma = AudioConfig {
        codec: AudioCodec::Pcma,
        ..audio[1].clone()
    };
    let mut file = Vec::new();
    write_av_init(&track().into(), &[audio[0].clone(), pcma], &mut file);
    let mut b = FragmentBuilder::new();
    b.set_audio_tracks(2);
    let (mut video, mut lanes) = (Vec::new(), [Vec::new(), Vec::new()]);
    let (mut aac_n, mut pcma_n) = (0u64, 0u64);
    for f in 0..n {
        for i in 0..25 * per {
            let v = f * 25 * per + i;
            let body = format!("frame {v}");
            let mut a = if i == 0 {
                au(
                    &[b"\x67sps", &[b"\x65".as_slice(), body.as_bytes()].concat()],
                    true,
                )
            } else {
                au(&[&[b"\x41".as_slice(), body.as_bytes()].concat()], false)
            };
            video.push(avc(&a));
            let dts = v as i64 * 3600;
            b.push(&mut a, dts, dts);
            let until = (v as u64 + 1) * 40; // ms
            while aac_n * 1024 * 1000 / 16_000 < until {
                let bytes = format!("aac {aac_n} {}", "a".repeat(aac_n as usize % 40)).into_bytes();
                b.push_audio(0, &mut audio_frame(&bytes, 1024, 0), aac_n * 1024);
                lanes[0].push((aac_n * 1024, bytes));
                aac_n += 1;
            }
            while pcma_n * 20 < until {
                let t = pcma_n * 160;
                if pcma_n != 7 {
                    let bytes = vec![pcma_n as u8; 160];
                    let loss = u32::from(pcma_n == 8);
                    b.push_audio(1, &mut audio_frame(&bytes, 160, loss), t);
                    lanes[1].push((t, bytes));
                }
                pcma_n += 1;
            }
        }
        let next = ((f + 1) * 25 * per) as i64 * 3600;
        b.write_to(&mut file, Some(next), Some(1 << 32))
            .expect("write");
    }
    (file, video, lanes)
}

#[test]
fn av_recording_reads_back_video_as_before_and_every_audio_frame() {
    let (file, video, lanes) = av_recording(3, 2);
    let mut c = Cursor::new(&file);
    let scan = scan_fragments(&mut c).expect("scan");
    assert!(scan.tail_error.is_none() && !scan.is_torn());
    assert_eq!(scan.track, Some(track().into()));
    assert_eq!(scan.defaults.track_id, TRACK_ID);
    let audio = &scan.audio;
    assert_eq!(audio.len(), 2);
    assert_eq!(audio[0].track_id, 2);
    assert_eq!(
        audio[0].config,
        audio_configs()[0],
        "AAC config back byte for byte"
    );
    assert_eq!(audio[1].track_id, 3);
    assert_eq!(audio[1].config.codec, AudioCodec::Pcma);
    assert_eq!(
        (audio[1].config.sample_rate, audio[1].config.channels),
        (8000, 1)
    );
    assert_eq!(audio[1].defaults.track_id, 3);
    assert_eq!(scan.fragments.len(), 3);
    assert_eq!(scan.duration(), 3 * 50 * 3600, "video duration, as before");
    let mut got_video = Vec::new();
    let mut got = [Vec::new(), Vec::new()];
    let mut buf = Vec::new();
    for (i, f) in scan.fragments.iter().enumerate() {
        assert_eq!(f.base_decode_time, i as u64 * 50 * 3600);
        assert_eq!((f.sample_count, f.first_is_keyframe), (50, true));
        assert_eq!(f.audio.len(), 2);
        for s in read_fragment_samples(&mut c, f, &scan.defaults).expect("video") {
            read_sample(&mut c, &s, &mut buf).expect("bytes");
            got_video.push(buf.clone());
        }
        for (lane, a) in audio.iter().enumerate() {
            let t = &f.audio[lane];
            assert_eq!(t.track_id, a.track_id);
            let table = read_track_samples(&mut c, f, a.track_id, &a.defaults).expect("audio");
            assert_eq!(table.len() as u32, t.sample_count);
            assert_eq!(table[0].decode_time, t.base_decode_time);
            assert_eq!(
                table.iter().map(|s| u64::from(s.duration)).sum::<u64>(),
                t.duration
            );
            for s in &table {
                assert!(s.is_keyframe());
                read_sample(&mut c, s, &mut buf).expect("bytes");
                got[lane].push((s.decode_time, buf.clone(), s.lost_packets));
            }
        }
    }
    assert_eq!(got_video, video);
    for lane in 0..2 {
        let want: Vec<(u64, Vec<u8>)> = lanes[lane].clone();
        let back: Vec<(u64, Vec<u8>)> = got[lane].iter().map(|g| (g.0, g.1.clone())).collect();
        assert_eq!(back, want, "lane {lane}: every frame at its decode time");
    }
    // The PCMA frame after the lost packet carries the loss; nothing else does.
    let lossy: Vec<(u64, u32)> = got[1]
        .iter()
        .filter(|g| g.2 > 0)
        .map(|g| (g.0, g.2))
        .collect();
    assert_eq!(lossy, [(8 * 160, 1)]);
    assert!(got[0].iter().all(|g| g.2 == 0));
    // Video loss accounting is untouched by audio loss.
    assert!(scan.damage.is_empty());
    assert!(scan.fragments.iter().all(|f| f.lost_packets == 0));
    // A track the file does not have: no samples, no error.
    let none = read_track_samples(&mut c, &scan.fragments[0], 9, &TrackDefaults::default());
    assert_eq!(none.expect("absent track").len(), 0);
}

#[test]
fn av_torn_tails_fall_back_to_the_previous_fragment() {
    let (file, _, _) = av_recording(2, 1);
    let scan = scan_fragments(&mut Cursor::new(&file)).expect("scan");
    let prev = scan.fragments[0].end;
    // Every cut inside the second fragment, audio bytes at the end of its mdat included.
    for cut in prev..file.len() as u64 {
        let scan = scan_fragments(&mut Cursor::new(&file[..cut as usize])).expect("scan");
        assert_eq!(scan.valid_len, prev, "cut at {cut}");
        assert_eq!(scan.fragments.len(), 1, "cut at {cut}");
        assert_eq!(scan.fragments[0].audio.len(), 2);
    }
    // An audio trun pointing past the mdat: the fragment is damage, not accepted.
    let mut bad = file.clone();
    let f = &scan.fragments[1];
    let moof = &bad[f.moof_offset as usize..f.mdat_offset as usize];
    let last_trun =
        moof.windows(4).rposition(|w| w == b"trun").expect("trun") + f.moof_offset as usize;
    // trun: fourcc, version/flags, count, data offset.
    let at = last_trun + 12;
    let off = u32::from_be_bytes(bad[at..at + 4].try_into().unwrap());
    bad[at..at + 4].copy_from_slice(&(off + 1000).to_be_bytes());
    let scan = scan_fragments(&mut Cursor::new(&bad)).expect("scan");
    assert_eq!(scan.fragments.len(), 1);
    assert!(scan.tail_error.is_some());
}

#[test]
fn malformed_audio_traks_are_errors_and_the_video_still_reads() {
    let (file, _, _) = av_recording(1, 1);
    let moov = BoxIter::new(&file, 0).nth(1).unwrap().unwrap();
    let moov_range = moov.offset as usize + 8..(moov.offset + moov.size) as usize;
    // An esds whose ES descriptor claims more bytes than it has.
    let mut g = file.clone();
    let at = find_string(&g, b"esds") + 8;
    assert_eq!(g[at], 0x03);
    g[at + 1] = 0x7f;
    let moov_body = &g[moov_range.clone()];
    assert!(matches!(
        parse_moov_audio(moov_body, moov_range.start as u64),
        Err(Fmp4Error::Invalid { .. })
    ));
    let scan = scan_fragments(&mut Cursor::new(&g)).expect("scan");
    assert!(
        scan.track.is_some() && scan.audio.is_empty(),
        "video kept, audio dropped"
    );
    assert_eq!(scan.fragments.len(), 1);
    // Another codec.
    let mut g = file.clone();
    let at = find_string(&g, b"alaw");
    g[at..at + 4].copy_from_slice(b"Opus");
    assert!(matches!(
        parse_moov_audio(&g[moov_range.clone()], 0),
        Err(Fmp4Error::Unsupported(_))
    ));
    // Every truncation of the moov body: an error or a shorter list, never a panic.
    for cut in 0..moov_range.len() {
        let _ = parse_moov_audio(&file[moov_range.start..moov_range.start + cut], 0);
    }
    // No audio: an empty list.
    let mut plain = Vec::new();
    write_init_segment(&track(), &mut plain);
    let moov = BoxIter::new(&plain, 0).nth(1).unwrap().unwrap();
    assert!(parse_moov_audio(moov.body, 0).expect("parse").is_empty());
}

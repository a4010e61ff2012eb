//! Bounded, panic-free walking of ISO BMFF boxes, over a byte slice or over a seekable file.
//!
//! Everything read here comes from files that may be torn by a crash or damaged on disk, so
//! every length is checked against the bytes that really exist before it is used, and nothing
//! is allocated on a file's say-so. Over a file only box headers are read (16 bytes at most),
//! so walking a multi-gigabyte recording costs a few syscalls per box.

use std::io::{Read, Seek, SeekFrom};

use super::error::Fmp4Error;

/// A four-character box type.
pub type FourCC = [u8; 4];

/// The header of a box: where it is and how long it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BoxHeader {
    /// Box type.
    pub fourcc: FourCC,
    /// Offset of the first header byte (absolute in the file, or as given to the walker).
    pub offset: u64,
    /// 8, or 16 for a box with a 64-bit `largesize`.
    pub header_len: u64,
    /// Total size, header included. A size-0 box ("to the end") gets the size that remains.
    pub size: u64,
}

impl BoxHeader {
    /// Offset just past the box.
    pub fn end(&self) -> u64 {
        self.offset + self.size
    }

    /// Offset of the first body byte.
    pub fn body_offset(&self) -> u64 {
        self.offset + self.header_len
    }

    /// Length of the body.
    pub fn body_len(&self) -> u64 {
        self.size - self.header_len
    }
}

/// Decodes the box header in `buf` (the bytes at `offset`, up to 16 of them), given that
/// `remaining` bytes exist from `offset` to the end of the container.
pub fn decode_header(buf: &[u8], offset: u64, remaining: u64) -> Result<BoxHeader, Fmp4Error> {
    let (Some(size), Some(fourcc)) = (be_u32(buf, 0), buf.get(4..8)) else {
        return Err(Fmp4Error::Truncated { offset });
    };
    let mut fourcc_arr = [0u8; 4];
    fourcc_arr.copy_from_slice(fourcc);
    let (header_len, size) = match size {
        0 => (8, remaining),
        1 => {
            let Some(large) = be_u64(buf, 8) else {
                return Err(Fmp4Error::Truncated { offset });
            };
            if large < 16 {
                return Err(Fmp4Error::Invalid {
                    offset,
                    reason: "largesize smaller than its header",
                });
            }
            (16, large)
        }
        2..=7 => {
            return Err(Fmp4Error::Invalid {
                offset,
                reason: "box size smaller than its header",
            });
        }
        n => (8, u64::from(n)),
    };
    if size < header_len || size > remaining {
        return Err(Fmp4Error::Truncated { offset });
    }
    Ok(BoxHeader {
        fourcc: fourcc_arr,
        offset,
        header_len,
        size,
    })
}

/// A box found in a byte slice, with its body borrowed.
#[derive(Clone, Copy, Debug)]
pub struct BoxRef<'a> {
    /// Box type.
    pub fourcc: FourCC,
    /// Offset of the header (the walker's base offset plus the position in the slice).
    pub offset: u64,
    /// Total size, header included.
    pub size: u64,
    /// The body (everything after the header).
    pub body: &'a [u8],
}

/// Iterates the boxes laid end to end in a byte slice (a file's top level, or a container's
/// body). Yields an error, then stops, at the first truncated or invalid box.
#[derive(Clone, Debug)]
pub struct BoxIter<'a> {
    data: &'a [u8],
    pos: usize,
    base: u64,
    done: bool,
}

impl<'a> BoxIter<'a> {
    /// Walks `data`, reporting offsets as `base_offset + position`.
    pub fn new(data: &'a [u8], base_offset: u64) -> Self {
        Self {
            data,
            pos: 0,
            base: base_offset,
            done: false,
        }
    }
}

impl<'a> Iterator for BoxIter<'a> {
    type Item = Result<BoxRef<'a>, Fmp4Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let rest = self.data.get(self.pos..).unwrap_or_default();
        if rest.is_empty() {
            self.done = true;
            return None;
        }
        let offset = self.base.saturating_add(self.pos as u64);
        let h = match decode_header(rest, offset, rest.len() as u64) {
            Ok(h) => h,
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        // size <= rest.len() was checked, so these fit usize.
        let (header_len, size) = (h.header_len as usize, h.size as usize);
        let body = rest.get(header_len..size).unwrap_or_default();
        self.pos += size;
        Some(Ok(BoxRef {
            fourcc: h.fourcc,
            offset,
            size: h.size,
            body,
        }))
    }
}

/// The body of the first box of type `fourcc` among the boxes in `data`, if any (a damaged
/// box ends the search).
pub fn find_child<'a>(data: &'a [u8], fourcc: &FourCC) -> Option<&'a [u8]> {
    BoxIter::new(data, 0)
        .map_while(Result::ok)
        .find(|b| &b.fourcc == fourcc)
        .map(|b| b.body)
}

/// Follows a path of box types down from the boxes in `data` (first match at each level).
pub fn find_path<'a>(data: &'a [u8], path: &[&FourCC]) -> Option<&'a [u8]> {
    path.iter().try_fold(data, |d, f| find_child(d, f))
}

/// Size of a seekable source, leaving the position unspecified.
pub fn source_len<R: Seek + ?Sized>(r: &mut R) -> Result<u64, Fmp4Error> {
    Ok(r.seek(SeekFrom::End(0))?)
}

/// Reads the header of the box at `offset` in a source of `len` bytes.
pub fn read_header_at<R: Read + Seek + ?Sized>(
    r: &mut R,
    offset: u64,
    len: u64,
) -> Result<BoxHeader, Fmp4Error> {
    let remaining = len.saturating_sub(offset);
    let n = remaining.min(16) as usize;
    let mut buf = [0u8; 16];
    let buf = buf.get_mut(..n).unwrap_or_default();
    r.seek(SeekFrom::Start(offset))?;
    r.read_exact(buf)?;
    decode_header(buf, offset, remaining)
}

/// Reads the body of a box into `out` (replacing its contents), refusing bodies over `max`
/// bytes. The header has been checked against the source's real length, so the allocation is
/// bounded by both.
pub fn read_body<R: Read + Seek + ?Sized>(
    r: &mut R,
    h: &BoxHeader,
    max: u64,
    out: &mut Vec<u8>,
) -> Result<(), Fmp4Error> {
    if h.body_len() > max {
        return Err(Fmp4Error::TooLarge {
            offset: h.offset,
            size: h.size,
        });
    }
    out.clear();
    out.resize(h.body_len() as usize, 0);
    r.seek(SeekFrom::Start(h.body_offset()))?;
    r.read_exact(out)?;
    Ok(())
}

/// Iterates the top-level boxes of a seekable source, reading headers only.
pub struct FileBoxIter<'r, R: ?Sized> {
    r: &'r mut R,
    pos: u64,
    len: u64,
    done: bool,
}

impl<'r, R: Read + Seek + ?Sized> FileBoxIter<'r, R> {
    /// Starts at offset 0; fails only if the source's length cannot be found.
    pub fn new(r: &'r mut R) -> Result<Self, Fmp4Error> {
        let len = source_len(r)?;
        Ok(Self {
            r,
            pos: 0,
            len,
            done: false,
        })
    }

    /// The source's length in bytes.
    pub fn source_len(&self) -> u64 {
        self.len
    }

    /// The source, to read a box's body between steps.
    pub fn source(&mut self) -> &mut R {
        self.r
    }
}

impl<R: Read + Seek + ?Sized> Iterator for FileBoxIter<'_, R> {
    type Item = Result<BoxHeader, Fmp4Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.len {
            return None;
        }
        match read_header_at(self.r, self.pos, self.len) {
            Ok(h) => {
                self.pos = h.end();
                Some(Ok(h))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// A checked big-endian field reader over a box body. Running off the end is an
/// [`Fmp4Error::Invalid`] carrying the file offset, never a panic.
#[derive(Clone, Debug, Default)]
pub(crate) struct Fields<'a> {
    data: &'a [u8],
    pos: usize,
    base: u64,
}

impl<'a> Fields<'a> {
    /// Reads `data`, whose first byte is at file offset `base`.
    pub(crate) fn new(data: &'a [u8], base: u64) -> Self {
        Self { data, pos: 0, base }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Fmp4Error> {
        let end = self.pos.checked_add(n);
        match end.and_then(|e| self.data.get(self.pos..e)) {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => Err(Fmp4Error::Invalid {
                offset: self.base.saturating_add(self.pos as u64),
                reason: "box body shorter than its fields",
            }),
        }
    }

    pub(crate) fn skip(&mut self, n: usize) -> Result<(), Fmp4Error> {
        self.take(n).map(|_| ())
    }

    pub(crate) fn u16(&mut self) -> Result<u16, Fmp4Error> {
        let b = self.take(2)?;
        Ok(be_u16(b, 0).unwrap_or(0))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, Fmp4Error> {
        let b = self.take(4)?;
        Ok(be_u32(b, 0).unwrap_or(0))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, Fmp4Error> {
        let b = self.take(8)?;
        Ok(be_u64(b, 0).unwrap_or(0))
    }

    /// Version byte and 24-bit flags of a full box.
    pub(crate) fn full_box(&mut self) -> Result<(u8, u32), Fmp4Error> {
        let v = self.u32()?;
        Ok(((v >> 24) as u8, v & 0x00ff_ffff))
    }

    /// Bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }
}

fn be_u16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes(s.try_into().ok()?))
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes(s.try_into().ok()?))
}

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at.checked_add(8)?)?;
    Some(u64::from_be_bytes(s.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn headers_sizes_zero_one_and_truncation() {
        // size 0: runs to the end.
        let h = decode_header(b"\0\0\0\0mdat", 100, 50).expect("size 0");
        assert_eq!((h.size, h.header_len, h.end()), (50, 8, 150));
        // size 1: 64-bit largesize.
        let mut b = b"\0\0\0\x01mdat".to_vec();
        b.extend_from_slice(&40u64.to_be_bytes());
        let h = decode_header(&b, 0, 40).expect("largesize");
        assert_eq!((h.size, h.header_len, h.body_len()), (40, 16, 24));
        assert!(matches!(
            decode_header(&b, 0, 39),
            Err(Fmp4Error::Truncated { offset: 0 })
        ));
        assert!(matches!(
            decode_header(&b[..12], 0, 12),
            Err(Fmp4Error::Truncated { .. })
        ));
        assert!(matches!(
            decode_header(b"\0\0\0\x04free", 0, 8),
            Err(Fmp4Error::Invalid { .. })
        ));
        assert!(matches!(
            decode_header(b"\0\0\0", 0, 3),
            Err(Fmp4Error::Truncated { .. })
        ));
    }

    #[test]
    fn slice_walker_stops_at_a_torn_box() {
        let mut d = Vec::new();
        d.extend_from_slice(b"\0\0\0\x0cfree1234");
        d.extend_from_slice(b"\0\0\0\x10skip1234");
        let boxes: Vec<_> = BoxIter::new(&d, 1000).collect();
        assert_eq!(boxes.len(), 2);
        let first = boxes[0].as_ref().expect("free");
        assert_eq!(
            (first.offset, first.size, first.body),
            (1000, 12, &b"1234"[..])
        );
        assert!(matches!(
            boxes[1],
            Err(Fmp4Error::Truncated { offset: 1012 })
        ));
    }

    #[test]
    fn file_walker_reads_headers() {
        let mut d = Vec::new();
        d.extend_from_slice(b"\0\0\0\x0cfree1234");
        d.extend_from_slice(b"\0\0\0\x09skipX");
        let mut c = Cursor::new(d);
        let it = FileBoxIter::new(&mut c).expect("len");
        let hs: Vec<_> = it.collect::<Result<_, _>>().expect("walk");
        assert_eq!(hs.len(), 2);
        assert_eq!(&hs[1].fourcc, b"skip");
        assert_eq!(hs[1].end(), 21);
    }

    #[test]
    fn fields_report_short_bodies() {
        let mut f = Fields::new(&[1, 2, 3], 40);
        assert_eq!(f.u16().expect("u16"), 0x0102);
        assert!(matches!(
            f.u32(),
            Err(Fmp4Error::Invalid { offset: 42, .. })
        ));
        assert_eq!(f.remaining(), 1);
        f.skip(1).expect("last byte");
        assert!(f.skip(1).is_err());
        assert!(f.skip(usize::MAX).is_err());
        let mut g = Fields::new(&[0; 8], 0);
        assert_eq!(g.u64().expect("u64"), 0);
        assert_eq!(g.full_box().ok(), None);
    }
}

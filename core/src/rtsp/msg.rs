//! RTSP/1.0 messages and the interleaved framing of one connection (RFC 2326 §4, §10.12).
//!
//! Parsing uses `nom` (already a dependency, also used for the H.264 parameter sets) on a
//! complete, bounded message head: the head is located first (at most [`MAX_HEAD_BYTES`]), then
//! the start line and each header line are parsed with small nom parsers. `rtsp-types` would
//! add a crate and its own owned message model with allocation per header; we only need a
//! tolerant reader of responses (and of the few requests servers send) plus `$` framing, so a
//! few combinators over the bytes we already hold are the smaller and faster choice.
//!
//! The [`Framer`] takes complete items off the front of a connection's single receive buffer:
//! an interleaved `$` frame leaves it as a `Bytes` by `split_to` + `freeze` (no copy). Bytes
//! that start neither a frame nor a message are skipped up to the next `$` or `RTSP/1.0` and
//! counted, so the caller can decide when framing is lost for good.

use bytes::{Buf, Bytes, BytesMut};
use nom::Parser;
use nom::bytes::complete::{tag, take_while, take_while_m_n, take_while1};
use nom::character::complete::{space0, space1};
use nom::combinator::{opt, rest};
use thiserror::Error;

/// Largest message head (start line and headers) accepted.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Largest message body accepted (the SDP is the largest body a camera sends).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Why bytes on the connection are not a usable RTSP message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MessageError {
    /// No end of the header block within [`MAX_HEAD_BYTES`].
    #[error("RTSP message head is over {MAX_HEAD_BYTES} bytes")]
    HeadTooLarge,
    /// `Content-Length` over [`MAX_BODY_BYTES`].
    #[error("RTSP body of {0} bytes is over the {MAX_BODY_BYTES}-byte limit")]
    BodyTooLarge(u64),
    /// The status line or request line does not parse.
    #[error("malformed RTSP start line")]
    BadStartLine,
    /// `Content-Length` is not a number.
    #[error("bad Content-Length header")]
    BadContentLength,
}

/// Header fields in arrival order; names compare case-insensitively.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All fields.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Adds a field.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push((name.into(), value.into()));
    }

    /// `CSeq` as a number (trailing whitespace tolerated, as Longse cameras send it).
    pub fn cseq(&self) -> Option<u32> {
        self.get("CSeq").and_then(|v| v.trim().parse().ok())
    }
}

/// A response from the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Reason phrase.
    pub reason: String,
    /// Header fields.
    pub headers: Headers,
    /// Body (`Content-Length` bytes).
    pub body: Bytes,
}

/// A request the server sent us (ANNOUNCE, GET_PARAMETER, SET_PARAMETER, OPTIONS, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// Method.
    pub method: String,
    /// Request URI.
    pub uri: String,
    /// Header fields.
    pub headers: Headers,
    /// Body.
    pub body: Bytes,
}

/// One RTSP message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A response.
    Response(Response),
    /// A server-sent request.
    Request(Request),
}

/// One item taken off the front of the receive buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// An interleaved `$` frame; `data` shares the receive buffer's memory.
    Interleaved {
        /// The channel byte.
        channel: u8,
        /// The RTP or RTCP packet.
        data: Bytes,
    },
    /// An RTSP message.
    Message(Message),
}

/// Takes [`Frame`]s off the front of a receive buffer, resynchronising on garbage.
#[derive(Debug, Default, Clone)]
pub struct Framer {
    /// Bytes skipped as garbage so far.
    pub garbage_bytes: u64,
    /// Times the framer had to search for the next frame start.
    pub resyncs: u64,
    /// After skipping garbage, a `$` is only believed when an RTP/RTCP version-2 header
    /// follows it (a stray `$` inside payload bytes would otherwise swallow real frames).
    resyncing: bool,
}

const RTSP_VERSION: &[u8] = b"RTSP/1.0";

impl Framer {
    /// A framer for a new connection.
    pub fn new() -> Framer {
        Framer::default()
    }

    /// The next complete item of `buf`, removing it from the buffer; `Ok(None)` when more
    /// bytes are needed. Errors are final for the connection.
    pub fn next(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, MessageError> {
        loop {
            let Some(&first) = buf.first() else {
                return Ok(None);
            };
            if matches!(first, b'\r' | b'\n') {
                // Stray line ends between messages (some servers add them): not garbage.
                buf.advance(1);
                continue;
            }
            if first == b'$' {
                if buf.len() < 4 {
                    return Ok(None);
                }
                let channel = buf[1];
                let len = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
                if self.resyncing && !(buf.len() > 4 && buf[4] >> 6 == 2 && len >= 4) {
                    if buf.len() == 4 && len >= 4 {
                        return Ok(None);
                    }
                    self.skip(buf, 1);
                    continue;
                }
                if buf.len() < 4 + len {
                    // No `reserve` here: the reader sizes its buffer (a reserve on a buffer
                    // that emitted frames still share allocates a new one).
                    return Ok(None);
                }
                // When the next byte is already here it must start something: a frame whose
                // end is followed by garbage had a lying length (it swallowed the frames
                // after it), so it is dropped and the search resumes inside it.
                if let Some(&after) = buf.get(4 + len)
                    && !starts_item(after)
                {
                    // Each dropped frame counts as a place of lost framing.
                    self.resyncing = false;
                    self.skip(buf, 1);
                    continue;
                }
                self.resyncing = false;
                buf.advance(4);
                let data = buf.split_to(len).freeze();
                return Ok(Some(Frame::Interleaved { channel, data }));
            }
            match classify(buf) {
                Start::Message => match parse_message(buf)? {
                    Some((msg, used)) => {
                        buf.advance(used);
                        self.resyncing = false;
                        return Ok(Some(Frame::Message(msg)));
                    }
                    None => return Ok(None),
                },
                Start::NeedMore => return Ok(None),
                Start::Garbage => {
                    let skip = garbage_len(buf);
                    self.skip(buf, skip);
                }
            }
        }
    }

    fn skip(&mut self, buf: &mut BytesMut, n: usize) {
        if !self.resyncing {
            self.resyncs += 1;
        }
        self.resyncing = true;
        self.garbage_bytes += n as u64;
        buf.advance(n);
    }
}

/// Whether `c` can be the first byte of a frame, a message or the line ends between them.
fn starts_item(c: u8) -> bool {
    matches!(c, b'$' | b'\r' | b'\n' | b'r') || c.is_ascii_uppercase()
}

enum Start {
    Message,
    NeedMore,
    Garbage,
}

fn is_token(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'!' | b'+')
}

/// Whether `buf` (not starting with `$`) starts a response, a request, or neither.
fn classify(buf: &[u8]) -> Start {
    let n = buf.len().min(RTSP_VERSION.len());
    if buf[..n].eq_ignore_ascii_case(&RTSP_VERSION[..n]) {
        return if n < RTSP_VERSION.len() {
            Start::NeedMore
        } else {
            Start::Message
        };
    }
    // A request line: METHOD SP URI SP RTSP/1.0
    let method_len = buf
        .iter()
        .take_while(|&&c| c.is_ascii_uppercase() || c == b'_')
        .count();
    if method_len == 0 || method_len > 32 {
        return Start::Garbage;
    }
    if method_len == buf.len() {
        return Start::NeedMore;
    }
    if buf[method_len] != b' ' {
        return Start::Garbage;
    }
    let line_end = buf.iter().take(1024).position(|&c| c == b'\n');
    match line_end {
        None if buf.len() < 1024 => {
            if buf.iter().any(|c| c.is_ascii_control() && *c != b'\r') {
                Start::Garbage
            } else {
                Start::NeedMore
            }
        }
        None => Start::Garbage,
        Some(e) => {
            let line = trim_cr(&buf[..e]);
            if line.len() >= RTSP_VERSION.len()
                && line[line.len() - RTSP_VERSION.len()..].eq_ignore_ascii_case(RTSP_VERSION)
            {
                Start::Message
            } else {
                Start::Garbage
            }
        }
    }
}

/// How many bytes to skip: up to the next `$` or `RTSP/1.0` (or a partial `RTSP/1.0` at the
/// end of the buffer), at least one.
fn garbage_len(buf: &[u8]) -> usize {
    for i in 1..buf.len() {
        if buf[i] == b'$' {
            return i;
        }
        let tail = &buf[i..];
        let n = tail.len().min(RTSP_VERSION.len());
        if tail[..n].eq_ignore_ascii_case(&RTSP_VERSION[..n]) {
            return i;
        }
    }
    buf.len().max(1)
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The end of the head (index just past the blank line), if it is in `buf`.
fn head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(p) = buf[i..].iter().position(|&c| c == b'\n') {
        let nl = i + p;
        match buf.get(nl + 1) {
            Some(b'\n') => return Some(nl + 2),
            Some(b'\r') if buf.get(nl + 2) == Some(&b'\n') => return Some(nl + 3),
            _ => {}
        }
        i = nl + 1;
    }
    None
}

type PResult<'a, T> = nom::IResult<&'a [u8], T>;

fn status_line(i: &[u8]) -> PResult<'_, (u16, &[u8])> {
    let (i, _) = tag(&b"RTSP/"[..]).parse(i)?;
    let (i, _) = take_while1(|c: u8| c.is_ascii_digit() || c == b'.').parse(i)?;
    let (i, _) = space1(i)?;
    let (i, code) = take_while_m_n(3, 3, |c: u8| c.is_ascii_digit()).parse(i)?;
    let (i, reason) = opt((space0, rest)).parse(i)?;
    let status = code.iter().fold(0u16, |a, &d| a * 10 + u16::from(d - b'0'));
    Ok((i, (status, reason.map_or(&b""[..], |(_, r)| r))))
}

fn request_line(i: &[u8]) -> PResult<'_, (&[u8], &[u8])> {
    let (i, method) = take_while1(is_token).parse(i)?;
    let (i, _) = space1(i)?;
    let (i, uri) = take_while1(|c: u8| c != b' ').parse(i)?;
    let (i, _) = space1(i)?;
    let (i, _) = tag(&b"RTSP/"[..]).parse(i)?;
    Ok((i, (method, uri)))
}

fn header_line(i: &[u8]) -> PResult<'_, (&[u8], &[u8])> {
    let (i, name) = take_while1(|c: u8| c != b':' && !c.is_ascii_whitespace()).parse(i)?;
    let (i, _) = space0(i)?;
    let (i, _) = tag(&b":"[..]).parse(i)?;
    let (i, value) = take_while(|_| true).parse(i)?;
    Ok((i, (name, value)))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).trim().to_string()
}

/// Parses one message at the front of `buf` (which starts a response or request line).
/// `Ok(None)` when incomplete; otherwise the message and the bytes it used.
pub fn parse_message(buf: &[u8]) -> Result<Option<(Message, usize)>, MessageError> {
    let Some(end) = head_end(&buf[..buf.len().min(MAX_HEAD_BYTES)]) else {
        if buf.len() >= MAX_HEAD_BYTES {
            return Err(MessageError::HeadTooLarge);
        }
        return Ok(None);
    };
    let head = &buf[..end];
    let mut lines = head
        .split(|&c| c == b'\n')
        .map(trim_cr)
        .filter(|l| !l.is_empty());
    let start = lines.next().ok_or(MessageError::BadStartLine)?;
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.is_empty() {
            continue;
        }
        if matches!(line[0], b' ' | b'\t') {
            // Obsolete line folding: continues the previous value.
            if let Some((_, v)) = headers.last_mut() {
                v.push(' ');
                v.push_str(&text(line));
            }
            continue;
        }
        match header_line(line) {
            Ok((_, (n, v))) => headers.push((text(n), text(v))),
            Err(_) => log::debug!("ignoring malformed RTSP header line"),
        }
    }
    let headers = Headers(headers);
    let body_len = match headers.get("Content-Length") {
        None => 0,
        Some(v) => v
            .trim()
            .parse::<u64>()
            .map_err(|_| MessageError::BadContentLength)?,
    };
    if body_len > MAX_BODY_BYTES as u64 {
        return Err(MessageError::BodyTooLarge(body_len));
    }
    let body_len = body_len as usize;
    if buf.len() < end + body_len {
        return Ok(None);
    }
    let body = Bytes::copy_from_slice(&buf[end..end + body_len]);
    let msg = if start.len() >= 5 && start[..5].eq_ignore_ascii_case(b"RTSP/") {
        let mut upper = start.to_vec();
        upper[..5].copy_from_slice(b"RTSP/");
        let (_, (status, reason)) = status_line(&upper).map_err(|_| MessageError::BadStartLine)?;
        Message::Response(Response {
            status,
            reason: text(reason),
            headers,
            body,
        })
    } else {
        let (_, (method, uri)) = request_line(start).map_err(|_| MessageError::BadStartLine)?;
        Message::Request(Request {
            method: text(method),
            uri: text(uri),
            headers,
            body,
        })
    };
    Ok(Some((msg, end + body_len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[u8]) -> (Vec<Frame>, Framer) {
        let mut f = Framer::new();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(fr) = f.next(&mut buf).unwrap() {
            out.push(fr);
        }
        (out, f)
    }

    #[test]
    fn response_with_body_and_interleaved_frames() {
        let input = b"RTSP/1.0 200 OK\r\nCSeq: 2 \r\nContent-Length: 3\r\n\r\nabc$\x00\x00\x02hi$\x01\x00\x00";
        let (out, f) = frames(input);
        assert_eq!(out.len(), 3);
        match &out[0] {
            Frame::Message(Message::Response(r)) => {
                assert_eq!(r.status, 200);
                assert_eq!(r.headers.cseq(), Some(2));
                assert_eq!(&r.body[..], b"abc");
            }
            o => panic!("{o:?}"),
        }
        assert_eq!(
            out[1],
            Frame::Interleaved {
                channel: 0,
                data: Bytes::from_static(b"hi")
            }
        );
        assert_eq!(f.resyncs, 0);
    }

    #[test]
    fn interleaved_frame_is_a_slice_of_the_buffer() {
        let mut buf = BytesMut::with_capacity(64);
        buf.extend_from_slice(b"$\x00\x00\x04\x80\x60\x00\x01");
        let base = buf.as_ptr();
        let Some(Frame::Interleaved { data, .. }) = Framer::new().next(&mut buf).unwrap() else {
            panic!("no frame");
        };
        assert_eq!(data.as_ptr(), base.wrapping_add(4), "no copy");
    }

    #[test]
    fn incomplete_input_waits() {
        let full = b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 4\r\n\r\nabcd";
        for n in 0..full.len() {
            let mut buf = BytesMut::from(&full[..n]);
            assert_eq!(Framer::new().next(&mut buf).unwrap(), None, "prefix {n}");
            assert_eq!(buf.len(), n, "nothing consumed from a prefix");
        }
    }

    #[test]
    fn garbage_is_skipped_to_the_next_frame_or_message() {
        let (out, f) = frames(
            b"xx\x01garbage$\x00\x00\x04\x80\x60\x00\x01ZZZZRTSP/1.0 200 OK\r\nCSeq: 3\r\n\r\n",
        );
        assert_eq!(out.len(), 2);
        assert!(matches!(out[0], Frame::Interleaved { channel: 0, .. }));
        assert!(
            matches!(&out[1], Frame::Message(Message::Response(r)) if r.headers.cseq() == Some(3))
        );
        assert_eq!(f.garbage_bytes, 14);
        assert_eq!(f.resyncs, 2);
    }

    #[test]
    fn a_stray_dollar_in_garbage_is_not_believed() {
        // `$` followed by a non-RTP byte after garbage: skipped, the real frame is found.
        let (out, _) = frames(b"zz$\x07\xff\xffQ$\x02\x00\x04\x80\x60\x00\x01");
        assert_eq!(out.len(), 1);
        assert!(matches!(out[0], Frame::Interleaved { channel: 2, .. }));
    }

    #[test]
    fn a_frame_with_a_lying_length_is_dropped_and_the_frames_it_swallowed_are_kept() {
        // Channel 0 claims 13 bytes but has 4: its claim ends inside the third frame.
        let mut input = b"$\x00\x00\x0d\x80\x60\x00\x01".to_vec();
        input.extend_from_slice(b"$\x00\x00\x04\x80\x60\x00\x02");
        input.extend_from_slice(b"$\x00\x00\x04\x80\x60\x00\x03");
        let (out, f) = frames(&input);
        let seqs: Vec<u8> = out
            .iter()
            .map(|fr| match fr {
                Frame::Interleaved { data, .. } => data[3],
                o => panic!("{o:?}"),
            })
            .collect();
        assert_eq!(seqs, vec![2, 3]);
        assert_eq!(f.resyncs, 1);
        assert_eq!(f.garbage_bytes, 8);
    }

    #[test]
    fn server_request_is_parsed() {
        let (out, _) = frames(b"GET_PARAMETER rtsp://cam/ RTSP/1.0\r\nCSeq: 7\r\n\r\n");
        match &out[0] {
            Frame::Message(Message::Request(r)) => {
                assert_eq!(r.method, "GET_PARAMETER");
                assert_eq!(r.uri, "rtsp://cam/");
                assert_eq!(r.headers.cseq(), Some(7));
            }
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn limits_are_enforced() {
        let mut big = b"RTSP/1.0 200 OK\r\n".to_vec();
        big.resize(MAX_HEAD_BYTES + 10, b'a');
        let mut buf = BytesMut::from(&big[..]);
        assert_eq!(
            Framer::new().next(&mut buf),
            Err(MessageError::HeadTooLarge)
        );
        let mut buf = BytesMut::from(&b"RTSP/1.0 200 OK\r\nContent-Length: 99999\r\n\r\n"[..]);
        assert_eq!(
            Framer::new().next(&mut buf),
            Err(MessageError::BodyTooLarge(99_999))
        );
        let mut buf = BytesMut::from(&b"RTSP/1.0 200 OK\r\nContent-Length: x\r\n\r\n"[..]);
        assert_eq!(
            Framer::new().next(&mut buf),
            Err(MessageError::BadContentLength)
        );
    }

    #[test]
    fn bare_newlines_folding_and_lowercase_version() {
        let (out, _) = frames(
            b"rtsp/1.0 401 Unauthorized\nCSeq: 1\nWWW-Authenticate: Basic\n realm=\"x\"\n\n",
        );
        match &out[0] {
            Frame::Message(Message::Response(r)) => {
                assert_eq!(r.status, 401);
                assert_eq!(r.headers.get("www-authenticate"), Some("Basic realm=\"x\""));
            }
            o => panic!("{o:?}"),
        }
    }
}

//! RTSP/1.0 request parsing and response formatting for the simulated camera.
//!
//! Only what a camera needs: a request line, headers and an optional body, plus the `$`-framed
//! interleaved packets a client may send on the same TCP connection (RTCP receiver reports),
//! which are skipped. Everything here treats input as hostile: sizes are bounded, nothing
//! panics, and anything unparseable is an error that ends only that client's connection.

use std::fmt::Write as _;

/// Largest request head (request line + headers) accepted, in bytes.
pub(crate) const MAX_HEAD: usize = 64 * 1024;
/// Largest request body accepted, in bytes (clients send small GET_PARAMETER bodies at most).
pub(crate) const MAX_BODY: usize = 64 * 1024;

/// One parsed RTSP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    pub(crate) method: String,
    pub(crate) uri: String,
    pub(crate) version: String,
    headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Request {
    /// The first header named `name` (case-insensitive), trimmed.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The CSeq to echo, when the client sent one.
    pub(crate) fn cseq(&self) -> Option<&str> {
        self.header("CSeq")
    }

    /// The session id from the `Session` header, without parameters such as `;timeout=`.
    pub(crate) fn session(&self) -> Option<&str> {
        self.header("Session")
            .map(|s| s.split(';').next().unwrap_or("").trim())
    }
}

/// What the start of a connection's read buffer holds.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Parsed {
    Request(Request),
    /// A `$`-framed interleaved packet from the client, skipped.
    Interleaved {
        channel: u8,
    },
}

/// Why a buffer cannot be parsed. The connection answers 400 (when it can) and closes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ParseError {
    HeadTooLarge,
    BodyTooLarge,
    NotUtf8,
    BadRequestLine,
    BadHeader,
    BadContentLength,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            ParseError::HeadTooLarge => "request head larger than 64 KiB",
            ParseError::BodyTooLarge => "request body larger than 64 KiB",
            ParseError::NotUtf8 => "request head is not UTF-8",
            ParseError::BadRequestLine => "malformed request line",
            ParseError::BadHeader => "malformed header line",
            ParseError::BadContentLength => "malformed Content-Length",
        };
        f.write_str(s)
    }
}

/// Parses one message from the start of `buf`.
///
/// Returns `Ok(None)` when more bytes are needed, or the message and how many bytes it used.
pub(crate) fn parse(buf: &[u8]) -> Result<Option<(Parsed, usize)>, ParseError> {
    // Skip blank lines between requests (some clients send a stray CRLF after a body).
    let skip = buf
        .iter()
        .take_while(|b| **b == b'\r' || **b == b'\n')
        .count();
    let rest = &buf[skip..];
    if rest.is_empty() {
        return Ok(None);
    }
    if rest[0] == b'$' {
        if rest.len() < 4 {
            return Ok(None);
        }
        let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
        if rest.len() < 4 + len {
            return Ok(None);
        }
        return Ok(Some((
            Parsed::Interleaved { channel: rest[1] },
            skip + 4 + len,
        )));
    }
    let Some((head_len, sep_len)) = find_head_end(rest) else {
        if rest.len() > MAX_HEAD {
            return Err(ParseError::HeadTooLarge);
        }
        return Ok(None);
    };
    if head_len > MAX_HEAD {
        return Err(ParseError::HeadTooLarge);
    }
    let head = std::str::from_utf8(&rest[..head_len]).map_err(|_| ParseError::NotUtf8)?;
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request_line = lines.next().ok_or(ParseError::BadRequestLine)?;
    let mut parts = request_line.split(' ').filter(|p| !p.is_empty());
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::BadRequestLine);
    };
    if !method
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b == b'_' || b == b'-')
    {
        return Err(ParseError::BadRequestLine);
    }
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            // Obsolete line folding: continue the previous header's value.
            let (_, v) = headers.last_mut().ok_or(ParseError::BadHeader)?;
            v.push(' ');
            v.push_str(line.trim());
            continue;
        }
        let (name, value) = line.split_once(':').ok_or(ParseError::BadHeader)?;
        let name = name.trim();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(ParseError::BadHeader);
        }
        headers.push((name.to_owned(), value.trim().to_owned()));
    }
    let content_length = match headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("Content-Length"))
    {
        Some((_, v)) => v
            .parse::<usize>()
            .map_err(|_| ParseError::BadContentLength)?,
        None => 0,
    };
    if content_length > MAX_BODY {
        return Err(ParseError::BodyTooLarge);
    }
    let body_start = head_len + sep_len;
    if rest.len() < body_start + content_length {
        return Ok(None);
    }
    let request = Request {
        method: method.to_owned(),
        uri: uri.to_owned(),
        version: version.to_owned(),
        headers,
        body: rest[body_start..body_start + content_length].to_vec(),
    };
    Ok(Some((
        Parsed::Request(request),
        skip + body_start + content_length,
    )))
}

/// Finds the blank line ending the head: returns (head length, separator length).
/// Accepts CRLF CRLF and, leniently, LF LF.
fn find_head_end(buf: &[u8]) -> Option<(usize, usize)> {
    let limit = buf.len().min(MAX_HEAD + 4);
    let mut i = 0;
    while i + 1 < limit {
        if buf[i] == b'\n' {
            if buf[i + 1] == b'\n' {
                return Some((i, 2));
            }
            if i + 2 < buf.len() && buf[i + 1] == b'\r' && buf[i + 2] == b'\n' {
                // "\r\n\r\n" ends at the second CRLF; the head excludes the first CR too.
                let head = if i > 0 && buf[i - 1] == b'\r' {
                    i - 1
                } else {
                    i
                };
                return Some((head, i + 3 - head));
            }
        }
        i += 1;
    }
    None
}

/// An RTSP response being built; `to_bytes` adds CSeq (when known) and Content-Length.
pub(crate) struct Response {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Response {
    pub(crate) fn new(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub(crate) fn status(&self) -> u16 {
        self.status
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub(crate) fn body(mut self, content_type: &'static str, body: Vec<u8>) -> Self {
        self.headers.push(("Content-Type", content_type.to_owned()));
        self.body = body;
        self
    }

    /// Serializes the response, echoing `cseq` first as clients match responses by it.
    pub(crate) fn to_bytes(&self, cseq: Option<&str>) -> Vec<u8> {
        let mut head = String::with_capacity(256);
        let _ = write!(head, "RTSP/1.0 {} {}\r\n", self.status, reason(self.status));
        if let Some(c) = cseq {
            // A CSeq echoed verbatim must not smuggle extra header lines.
            let c: String = c.chars().filter(|c| !c.is_control()).collect();
            let _ = write!(head, "CSeq: {c}\r\n");
        }
        head.push_str("Server: camwire-sim\r\n");
        for (n, v) in &self.headers {
            let _ = write!(head, "{n}: {v}\r\n");
        }
        if !self.body.is_empty() {
            let _ = write!(head, "Content-Length: {}\r\n", self.body.len());
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        out.extend_from_slice(&self.body);
        out
    }
}

/// Reason phrases for the status codes the sim uses (RFC 2326 section 7.1.1).
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        454 => "Session Not Found",
        455 => "Method Not Valid in This State",
        459 => "Aggregate Operation Not Allowed",
        451 => "Parameter Not Understood",
        457 => "Invalid Range",
        461 => "Unsupported Transport",
        551 => "Option not supported",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        505 => "RTSP Version not supported",
        _ => "Unknown",
    }
}

/// The path of a request URI: `rtsp://host:port/a/b?q` → `/a/b`; a bare path is kept; `*` is
/// `*`. Query strings are ignored (some VMSs append their own).
pub(crate) fn uri_path(uri: &str) -> &str {
    let without_scheme = match uri.find("://") {
        Some(i) => {
            let after = &uri[i + 3..];
            match after.find('/') {
                Some(j) => &after[j..],
                None => "/",
            }
        }
        None => uri,
    };
    without_scheme.split(['?', '#']).next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(buf: &[u8]) -> (Request, usize) {
        match parse(buf) {
            Ok(Some((Parsed::Request(r), n))) => (r, n),
            other => panic!("expected a request, got {other:?}"),
        }
    }

    #[test]
    fn parses_describe_with_headers() {
        let buf = b"DESCRIBE rtsp://127.0.0.1:554/stream RTSP/1.0\r\nCSeq: 2\r\naccept:  application/sdp \r\n\r\nOPTIONS";
        let (r, n) = req(buf);
        assert_eq!(r.method, "DESCRIBE");
        assert_eq!(r.uri, "rtsp://127.0.0.1:554/stream");
        assert_eq!(r.version, "RTSP/1.0");
        assert_eq!(r.cseq(), Some("2"));
        assert_eq!(r.header("Accept"), Some("application/sdp"));
        assert_eq!(&buf[n..], b"OPTIONS");
    }

    #[test]
    fn waits_for_the_whole_head_and_body() {
        let full = b"GET_PARAMETER * RTSP/1.0\r\nCSeq: 9\r\nSession: abc;timeout=60\r\nContent-Length: 4\r\n\r\nabcd";
        for cut in 0..full.len() {
            assert_eq!(parse(&full[..cut]), Ok(None), "cut at {cut}");
        }
        let (r, n) = req(full);
        assert_eq!(n, full.len());
        assert_eq!(r.body, b"abcd");
        assert_eq!(r.session(), Some("abc"));
    }

    #[test]
    fn accepts_bare_lf_and_leading_blank_lines() {
        let buf = b"\r\nOPTIONS * RTSP/1.0\nCSeq: 1\n\n";
        let (r, n) = req(buf);
        assert_eq!(r.method, "OPTIONS");
        assert_eq!(r.cseq(), Some("1"));
        assert_eq!(n, buf.len());
    }

    #[test]
    fn skips_interleaved_frames() {
        let buf = [b'$', 1, 0, 2, 0xaa, 0xbb, b'O'];
        assert_eq!(parse(&buf[..5]), Ok(None));
        assert_eq!(
            parse(&buf),
            Ok(Some((Parsed::Interleaved { channel: 1 }, 6)))
        );
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(
            parse(b"\x16\x03\x01 hello\r\n\r\n"),
            Err(ParseError::BadRequestLine)
        );
        assert_eq!(parse(b"OPTIONS *\r\n\r\n"), Err(ParseError::BadRequestLine));
        assert_eq!(
            parse(b"OPTIONS * RTSP/1.0\r\nno colon here\r\n\r\n"),
            Err(ParseError::BadHeader)
        );
        assert_eq!(
            parse(b"OPTIONS * RTSP/1.0\r\nContent-Length: -1\r\n\r\n"),
            Err(ParseError::BadContentLength)
        );
        assert_eq!(
            parse(b"OPTIONS * RTSP/1.0\r\nContent-Length: 999999\r\n\r\n"),
            Err(ParseError::BodyTooLarge)
        );
        assert_eq!(
            parse(b"OPTIONS * RTSP/1.0\r\nX: \xff\r\n\r\n"),
            Err(ParseError::NotUtf8)
        );
        let huge = vec![b'A'; MAX_HEAD + 10];
        assert_eq!(parse(&huge), Err(ParseError::HeadTooLarge));
    }

    #[test]
    fn response_echoes_cseq_and_sets_content_length() {
        let r = Response::new(200)
            .header("Session", "x")
            .body("text/plain", b"hi".to_vec());
        let s = String::from_utf8(r.to_bytes(Some("7\r\nX: y"))).unwrap();
        assert!(s.starts_with("RTSP/1.0 200 OK\r\nCSeq: 7X: y\r\n"), "{s}");
        assert!(s.contains("Content-Length: 2\r\n"));
        assert!(s.ends_with("\r\n\r\nhi"));
    }

    #[test]
    fn uri_paths() {
        assert_eq!(uri_path("rtsp://h:1/stream/trackID=0"), "/stream/trackID=0");
        assert_eq!(uri_path("rtsp://u:p@h:1/stream?x=1"), "/stream");
        assert_eq!(uri_path("rtsp://h:1"), "/");
        assert_eq!(uri_path("*"), "*");
        assert_eq!(uri_path("/stream"), "/stream");
    }
}

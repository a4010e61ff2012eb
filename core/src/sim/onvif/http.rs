//! Just enough of an HTTP/1.1 server for the sim's ONVIF face: one request at a time per
//! connection, `Content-Length` bodies only, keep-alive when the client wants it.
//!
//! Everything read is bounded (head, header count, body) because the face is also a target
//! for fuzz-ish tests and hostile clients; a request that breaks a bound gets a 4xx and the
//! connection is closed.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest request head (request line and headers).
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Most headers in one request.
const MAX_HEADERS: usize = 64;
/// Largest request body: SOAP requests are a few kilobytes.
pub(crate) const MAX_BODY_BYTES: usize = 256 * 1024;

/// One parsed request.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) method: String,
    /// The request target as sent (path and query), what HTTP Digest's `uri=` names.
    pub(crate) target: String,
    /// The target's path, without query.
    pub(crate) path: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    /// Whether the client lets us keep the connection open after the answer.
    pub(crate) keep_alive: bool,
}

impl Request {
    /// First header with this name (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why no request could be read; `Closed` is the normal end of a connection.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReadError {
    Closed,
    /// Answer with this status and close.
    Refuse(u16, &'static str),
}

/// Reads one request. `Err(Closed)` when the peer closed before sending anything.
pub(crate) async fn read_request<R: AsyncBufRead + Unpin>(
    reader: &mut R,
) -> Result<Request, ReadError> {
    let mut raw = Vec::with_capacity(1024);
    loop {
        let budget = MAX_HEAD_BYTES.saturating_sub(raw.len());
        if budget == 0 {
            return Err(ReadError::Refuse(431, "request head too large"));
        }
        let before = raw.len();
        let n = (&mut *reader)
            .take(budget as u64)
            .read_until(b'\n', &mut raw)
            .await
            .map_err(|_| ReadError::Closed)?;
        if n == 0 {
            return Err(if raw.is_empty() {
                ReadError::Closed
            } else {
                ReadError::Refuse(400, "connection closed inside the request head")
            });
        }
        let line = raw.get(before..).unwrap_or(&[]);
        // Blank lines before a request line are allowed (RFC 9112 section 2.2).
        if (line == b"\r\n" || line == b"\n") && before == 0 {
            raw.clear();
            continue;
        }
        if line == b"\r\n" || line == b"\n" {
            break;
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(&raw) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(ReadError::Refuse(400, "incomplete head")),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(ReadError::Refuse(431, "too many headers"));
        }
        Err(_) => return Err(ReadError::Refuse(400, "malformed request head")),
    }
    let method = req.method.unwrap_or("").to_string();
    let target = req.path.unwrap_or("/").to_string();
    let http10 = req.version == Some(0);
    let headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).trim().to_string(),
            )
        })
        .collect();
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    if get("Transfer-Encoding").is_some() {
        // Cameras' SOAP clients send Content-Length; chunked uploads are not worth the code.
        return Err(ReadError::Refuse(
            411,
            "chunked request bodies are not supported",
        ));
    }
    let len = match get("Content-Length") {
        None => 0,
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| ReadError::Refuse(400, "bad Content-Length"))?,
    };
    if len > MAX_BODY_BYTES {
        return Err(ReadError::Refuse(413, "request body too large"));
    }
    let connection = get("Connection").unwrap_or("").to_ascii_lowercase();
    let keep_alive = if http10 {
        connection.contains("keep-alive")
    } else {
        !connection.contains("close")
    };
    let mut body = vec![0u8; len];
    reader
        .read_exact(&mut body)
        .await
        .map_err(|_| ReadError::Refuse(400, "connection closed inside the request body"))?;
    let path = target.split(['?', '#']).next().unwrap_or("/").to_string();
    Ok(Request {
        method,
        target,
        path,
        headers,
        body,
        keep_alive,
    })
}

/// One answer.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) content_type: &'static str,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Vec<u8>,
}

impl Response {
    pub(crate) fn new(status: u16, content_type: &'static str, body: Vec<u8>) -> Self {
        Response {
            status,
            content_type,
            headers: Vec::new(),
            body,
        }
    }

    /// A short plain-text answer (errors, 404).
    pub(crate) fn text(status: u16, text: &str) -> Self {
        Response::new(
            status,
            "text/plain; charset=utf-8",
            format!("{text}\n").into_bytes(),
        )
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        _ => "Unknown",
    }
}

/// Writes `resp`, announcing whether the connection stays open.
pub(crate) async fn write_response<W: AsyncWrite + Unpin>(
    w: &mut W,
    resp: &Response,
    keep_alive: bool,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nServer: camwire-sim\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: {}\r\n",
        resp.status,
        reason(resp.status),
        resp.content_type,
        resp.body.len(),
        if keep_alive { "keep-alive" } else { "close" }
    );
    for (k, v) in &resp.headers {
        head.push_str(k);
        head.push_str(": ");
        head.push_str(v);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    w.write_all(head.as_bytes()).await?;
    w.write_all(&resp.body).await?;
    w.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::BufReader;

    async fn read(bytes: &[u8]) -> Result<Request, ReadError> {
        let mut r = BufReader::new(bytes);
        read_request(&mut r).await
    }

    #[tokio::test]
    async fn post_with_body_and_keep_alive_rules() {
        let r = read(
            b"POST /onvif/device_service?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
        )
        .await
        .unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/onvif/device_service");
        assert_eq!(r.target, "/onvif/device_service?x=1");
        assert_eq!(r.body, b"abc");
        assert!(r.keep_alive);
        assert_eq!(r.header("host"), Some("a"));
        let r = read(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        assert!(!r.keep_alive);
        let r = read(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
        assert!(!r.keep_alive);
    }

    #[tokio::test]
    async fn bounds_and_garbage() {
        assert_eq!(read(b"").await.unwrap_err(), ReadError::Closed);
        assert!(matches!(
            read(b"POST / HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n").await,
            Err(ReadError::Refuse(413, _))
        ));
        assert!(matches!(
            read(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc").await,
            Err(ReadError::Refuse(400, _))
        ));
        assert!(matches!(
            read(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").await,
            Err(ReadError::Refuse(411, _))
        ));
        assert!(matches!(
            read(b"\x00\x01garbage\r\n\r\n").await,
            Err(ReadError::Refuse(400, _))
        ));
        let mut huge = b"GET / HTTP/1.1\r\n".to_vec();
        huge.extend(std::iter::repeat_n(b'a', MAX_HEAD_BYTES + 10));
        assert!(matches!(read(&huge).await, Err(ReadError::Refuse(431, _))));
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..(MAX_HEADERS + 1) {
            many.extend(format!("X-{i}: v\r\n").as_bytes());
        }
        many.extend(b"\r\n");
        assert!(matches!(read(&many).await, Err(ReadError::Refuse(431, _))));
    }
}

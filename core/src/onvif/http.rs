//! A deliberately small HTTP/1.1 client for talking SOAP to cameras and fetching snapshots.
//!
//! Why not a general HTTP client crate: cameras speak plain HTTP/1.1, one request at a time;
//! what matters here is that every byte read is bounded (head, chunk lines, body) and that the
//! whole exchange has one deadline. This file does exactly that on a tokio `TcpStream`, with
//! `httparse` for the status line and headers. One connection per request (`Connection: close`):
//! ONVIF traffic is a handful of requests, and many cameras mishandle keep-alive anyway.
//!
//! `https://` goes through rustls (feature `tls`, see [`super::tls`] for how certificates are
//! checked); without the feature such a URL is refused with [`Error::InvalidInput`].

use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use url::Url;

use super::error::{Error, Result, redact_url};
use super::tls::TlsVerify;

/// A connection to a device: plain TCP or TLS over it.
trait Conn: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Conn for T {}

/// Largest response head (status line + headers) accepted.
const MAX_HEAD_BYTES: u64 = 32 * 1024;
/// Most headers accepted in one response.
const MAX_HEADERS: usize = 100;

/// One HTTP request.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// `GET` or `POST`.
    pub method: &'a str,
    /// Absolute `http://` or `https://` URL.
    pub url: &'a Url,
    /// How an `https://` server's certificate is checked.
    pub tls: &'a TlsVerify,
    /// Extra headers (Host, Content-Length and Connection are added here).
    pub headers: Vec<(String, String)>,
    /// Request body (empty for GET).
    pub body: &'a [u8],
}

/// One HTTP response with its whole body.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Bytes,
}

impl Response {
    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All headers with this name (case-insensitive).
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The request target for the request line and for HTTP Digest's `uri=`.
pub fn request_target(url: &Url) -> String {
    let mut t = url.path().to_string();
    if t.is_empty() {
        t.push('/');
    }
    if let Some(q) = url.query() {
        t.push('?');
        t.push_str(q);
    }
    t
}

/// Sends `req` and reads the answer, all within `timeout`, refusing bodies over `max_body`.
pub async fn send(req: &Request<'_>, timeout: Duration, max_body: usize) -> Result<Response> {
    let target = redact_url(req.url.as_str());
    match tokio::time::timeout(timeout, send_inner(req, &target, max_body)).await {
        Ok(r) => r,
        Err(_) => Err(Error::Timeout {
            what: format!("HTTP {} {}", req.method, target),
            after_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
        }),
    }
}

async fn send_inner(req: &Request<'_>, target: &str, max_body: usize) -> Result<Response> {
    let url = req.url;
    let https = match url.scheme() {
        "http" => false,
        "https" if cfg!(feature = "tls") => true,
        "https" => {
            return Err(Error::InvalidInput(format!(
                "{target}: HTTPS needs camwire's `tls` feature, which this build lacks"
            )));
        }
        other => {
            return Err(Error::InvalidInput(format!(
                "{target}: unsupported URL scheme {other:?}"
            )));
        }
    };
    let host = url
        .host_str()
        .ok_or_else(|| Error::InvalidInput(format!("{target}: URL has no host")))?;
    let port = url.port_or_known_default().unwrap_or(80);
    let connect_to = format!("{host}:{port}");
    let conn_err = |e: std::io::Error| Error::Connection {
        target: target.to_string(),
        reason: e.to_string(),
    };
    let tcp = TcpStream::connect(connect_to.as_str())
        .await
        .map_err(conn_err)?;
    let _ = tcp.set_nodelay(true);
    let mut stream: Box<dyn Conn> = if https {
        tls_connect(tcp, host, req.tls, target).await?
    } else {
        Box::new(tcp)
    };

    let host_header = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nUser-Agent: camwire\r\n",
        req.method,
        request_target(url),
        host_header
    );
    for (k, v) in &req.headers {
        // Header injection guard: values come from us, but URLs and challenges come from devices.
        if k.contains(['\r', '\n', ':']) || v.contains(['\r', '\n']) {
            return Err(Error::InvalidInput(format!("bad header {k:?}")));
        }
        head.push_str(k);
        head.push_str(": ");
        head.push_str(v);
        head.push_str("\r\n");
    }
    if req.method != "GET" || !req.body.is_empty() {
        head.push_str(&format!("Content-Length: {}\r\n", req.body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.map_err(conn_err)?;
    if !req.body.is_empty() {
        stream.write_all(req.body).await.map_err(conn_err)?;
    }
    stream.flush().await.map_err(conn_err)?;

    let mut reader = BufReader::new(stream);
    loop {
        let (status, headers) = read_head(&mut reader, target).await?;
        if (100..200).contains(&status) && status != 101 {
            continue; // 100 Continue and friends: the real answer follows.
        }
        let body = if req.method == "HEAD" || status == 204 || status == 304 {
            Bytes::new()
        } else {
            read_body(&mut reader, &headers, target, max_body).await?
        };
        return Ok(Response {
            status,
            headers,
            body,
        });
    }
}

#[cfg(feature = "tls")]
async fn tls_connect(
    tcp: TcpStream,
    host: &str,
    verify: &TlsVerify,
    target: &str,
) -> Result<Box<dyn Conn>> {
    Ok(Box::new(
        super::tls::connect(tcp, host, verify, target).await?,
    ))
}

#[cfg(not(feature = "tls"))]
async fn tls_connect(
    _tcp: TcpStream,
    _host: &str,
    _verify: &TlsVerify,
    target: &str,
) -> Result<Box<dyn Conn>> {
    Err(Error::InvalidInput(format!(
        "{target}: no TLS in this build"
    )))
}

type Headers = Vec<(String, String)>;

async fn read_head<R: tokio::io::AsyncBufRead + Unpin>(
    reader: &mut R,
    target: &str,
) -> Result<(u16, Headers)> {
    let mut raw = Vec::with_capacity(1024);
    loop {
        let budget = MAX_HEAD_BYTES.saturating_sub(raw.len() as u64);
        if budget == 0 {
            return Err(Error::protocol(target, "HTTP response head too large"));
        }
        let before = raw.len();
        let n = (&mut *reader)
            .take(budget)
            .read_until(b'\n', &mut raw)
            .await
            .map_err(|e| io_to_error(e, target))?;
        if n == 0 {
            return Err(Error::protocol(
                target,
                if raw.is_empty() {
                    "connection closed without an HTTP response"
                } else {
                    "connection closed inside the HTTP response head"
                },
            ));
        }
        let line = raw.get(before..).unwrap_or(&[]);
        if line == b"\r\n" || line == b"\n" {
            if before == 0 {
                // Tolerate stray blank lines before the status line.
                raw.clear();
                continue;
            }
            break;
        }
    }
    let mut hdrs = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut hdrs);
    match resp.parse(&raw) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err(Error::protocol(target, "incomplete HTTP response head"));
        }
        Err(e) => return Err(Error::protocol(target, format!("bad HTTP response: {e}"))),
    }
    let status = resp
        .code
        .ok_or_else(|| Error::protocol(target, "HTTP response without status"))?;
    let headers = resp
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).trim().to_string(),
            )
        })
        .collect();
    Ok((status, headers))
}

fn io_to_error(e: std::io::Error, target: &str) -> Error {
    Error::Connection {
        target: target.to_string(),
        reason: e.to_string(),
    }
}

fn too_large(target: &str, limit: usize) -> Error {
    Error::protocol(
        target,
        format!("response body exceeds the limit of {limit} bytes"),
    )
}

async fn read_body<R: tokio::io::AsyncBufRead + Unpin>(
    reader: &mut R,
    headers: &Headers,
    target: &str,
    max_body: usize,
) -> Result<Bytes> {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let chunked = get("transfer-encoding")
        .map(|v| v.to_ascii_lowercase().contains("chunked"))
        .unwrap_or(false);
    if chunked {
        return read_chunked(reader, target, max_body).await;
    }
    if let Some(cl) = get("content-length") {
        let len: u64 = cl
            .trim()
            .parse()
            .map_err(|_| Error::protocol(target, format!("bad Content-Length {cl:?}")))?;
        if len > max_body as u64 {
            return Err(too_large(target, max_body));
        }
        let len = usize::try_from(len).map_err(|_| too_large(target, max_body))?;
        let mut body = vec![0u8; len];
        reader.read_exact(&mut body).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                Error::protocol(target, "connection closed before the end of the body")
            } else {
                io_to_error(e, target)
            }
        })?;
        return Ok(Bytes::from(body));
    }
    // No framing: the body runs until the connection closes. Over TLS, cameras close without
    // close_notify, which rustls reports as UnexpectedEof: for this framing that is the end.
    let mut body = Vec::new();
    match (&mut *reader)
        .take(max_body as u64 + 1)
        .read_to_end(&mut body)
        .await
    {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
        Err(e) => return Err(io_to_error(e, target)),
    }
    if body.len() > max_body {
        return Err(too_large(target, max_body));
    }
    Ok(Bytes::from(body))
}

async fn read_line_bounded<R: tokio::io::AsyncBufRead + Unpin>(
    reader: &mut R,
    target: &str,
) -> Result<String> {
    let mut line = Vec::new();
    (&mut *reader)
        .take(4096)
        .read_until(b'\n', &mut line)
        .await
        .map_err(|e| io_to_error(e, target))?;
    if !line.ends_with(b"\n") {
        return Err(Error::protocol(target, "bad or truncated chunked encoding"));
    }
    Ok(String::from_utf8_lossy(&line).trim().to_string())
}

async fn read_chunked<R: tokio::io::AsyncBufRead + Unpin>(
    reader: &mut R,
    target: &str,
    max_body: usize,
) -> Result<Bytes> {
    let mut body: Vec<u8> = Vec::new();
    loop {
        let line = read_line_bounded(reader, target).await?;
        let size_str = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_str, 16)
            .map_err(|_| Error::protocol(target, format!("bad chunk size {size_str:?}")))?;
        if size == 0 {
            // Trailers, then the final empty line.
            for _ in 0..MAX_HEADERS {
                let t = read_line_bounded(reader, target).await?;
                if t.is_empty() {
                    return Ok(Bytes::from(body));
                }
            }
            return Err(Error::protocol(target, "too many chunked trailers"));
        }
        if body.len().saturating_add(size) > max_body {
            return Err(too_large(target, max_body));
        }
        let start = body.len();
        body.resize(start + size, 0);
        let dst = body.get_mut(start..).unwrap_or(&mut []);
        reader
            .read_exact(dst)
            .await
            .map_err(|_| Error::protocol(target, "bad or truncated chunked encoding"))?;
        let crlf = read_line_bounded(reader, target).await?;
        if !crlf.is_empty() {
            return Err(Error::protocol(target, "missing CRLF after chunk"));
        }
    }
}

#[cfg(test)]
pub(crate) mod testserver {
    //! A canned-response HTTP responder for tests: each accepted connection gets the next
    //! scripted answer, and every request received is recorded.

    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// One recorded request.
    #[derive(Debug, Clone)]
    pub struct Seen {
        pub head: String,
        pub body: String,
    }

    impl Seen {
        pub fn header(&self, name: &str) -> Option<String> {
            self.head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_string())
            })
        }
    }

    pub type Handler = Arc<dyn Fn(&Seen, usize) -> Vec<u8> + Send + Sync>;

    /// Starts a responder on 127.0.0.1; `handler(request, index)` returns raw response bytes.
    pub async fn start(handler: Handler) -> (String, Arc<Mutex<Vec<Seen>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let mut buf = Vec::new();
                let mut tmp = [0u8; 4096];
                let req = loop {
                    let n = match sock.read(&mut tmp).await {
                        Ok(0) | Err(_) => break None,
                        Ok(n) => n,
                    };
                    buf.extend_from_slice(&tmp[..n]);
                    if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..pos]).to_string();
                        let cl: usize = head
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.trim()
                                    .eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse().ok())?
                            })
                            .unwrap_or(0);
                        while buf.len() < pos + 4 + cl {
                            match sock.read(&mut tmp).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => buf.extend_from_slice(&tmp[..n]),
                            }
                        }
                        let body = String::from_utf8_lossy(&buf[pos + 4..]).to_string();
                        break Some(Seen { head, body });
                    }
                };
                let Some(req) = req else { continue };
                let idx = {
                    let mut s = seen2.lock().unwrap();
                    s.push(req.clone());
                    s.len() - 1
                };
                let resp = handler(&req, idx);
                let _ = sock.write_all(&resp).await;
                let _ = sock.shutdown().await;
            }
        });
        (format!("http://{addr}"), seen)
    }

    /// A complete HTTP response with Content-Length.
    pub fn response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {status}\r\n");
        for (k, v) in headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let mut out = out.into_bytes();
        out.extend_from_slice(body);
        out
    }

    /// A SOAP 1.2 response, HTTP 200.
    pub fn soap_ok(body_xml: &str) -> Vec<u8> {
        response(
            "200 OK",
            &[("Content-Type", "application/soap+xml; charset=utf-8")],
            envelope(body_xml).as_bytes(),
        )
    }

    /// Wraps a body in a SOAP 1.2 envelope with the usual camera prefixes.
    pub fn envelope(body_xml: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:trt="http://www.onvif.org/ver10/media/wsdl" xmlns:tr2="http://www.onvif.org/ver20/media/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:ter="http://www.onvif.org/ver10/error"><SOAP-ENV:Header/><SOAP-ENV:Body>{body_xml}</SOAP-ENV:Body></SOAP-ENV:Envelope>"#
        )
    }
}

#[cfg(test)]
mod tests {
    use super::testserver::*;
    use super::*;
    use std::sync::Arc;

    async fn get(base: &str, max: usize) -> Result<Response> {
        let url = Url::parse(&format!("{base}/x?y=1")).unwrap();
        send(
            &Request {
                method: "GET",
                url: &url,
                tls: &TlsVerify::default(),
                headers: vec![],
                body: b"",
            },
            Duration::from_secs(5),
            max,
        )
        .await
    }

    #[tokio::test]
    async fn content_length_body() {
        let (base, seen) = start(Arc::new(|_, _| {
            response("200 OK", &[("X-A", "b")], b"hello")
        }))
        .await;
        let r = get(&base, 100).await.unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(&r.body[..], b"hello");
        assert_eq!(r.header("x-a"), Some("b"));
        assert!(
            seen.lock().unwrap()[0]
                .head
                .starts_with("GET /x?y=1 HTTP/1.1")
        );
    }

    #[tokio::test]
    async fn chunked_body_and_100_continue() {
        let (base, _) = start(Arc::new(|_, _| {
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n".to_vec()
        }))
        .await;
        let r = get(&base, 100).await.unwrap();
        assert_eq!(&r.body[..], b"hello world");
    }

    #[tokio::test]
    async fn close_delimited_body() {
        let (base, _) = start(Arc::new(|_, _| {
            b"HTTP/1.0 200 OK\r\n\r\nuntil close".to_vec()
        }))
        .await;
        let r = get(&base, 100).await.unwrap();
        assert_eq!(&r.body[..], b"until close");
    }

    #[tokio::test]
    async fn huge_content_length_refused_without_allocating() {
        // Announces 100 MB but the limit is 1 MiB: refused from the header alone.
        let (base, _) = start(Arc::new(|_, _| {
            b"HTTP/1.1 200 OK\r\nContent-Length: 104857600\r\n\r\n<a>".to_vec()
        }))
        .await;
        let e = get(&base, 1 << 20).await.unwrap_err();
        assert!(e.to_string().contains("exceeds the limit"), "{e}");
    }

    #[tokio::test]
    async fn oversized_chunked_and_unframed_bodies_refused() {
        let (base, _) = start(Arc::new(|_, i| {
            if i == 0 {
                let mut v = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
                for _ in 0..20 {
                    v.extend_from_slice(b"400\r\n");
                    v.extend_from_slice(&[b'a'; 0x400]);
                    v.extend_from_slice(b"\r\n");
                }
                v.extend_from_slice(b"0\r\n\r\n");
                v
            } else {
                let mut v = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
                v.extend_from_slice(&[b'a'; 20_000]);
                v
            }
        }))
        .await;
        assert!(get(&base, 10_000).await.is_err());
        assert!(get(&base, 10_000).await.is_err());
    }

    #[tokio::test]
    async fn truncated_and_garbage_responses() {
        let (base, _) = start(Arc::new(|_, i| match i {
            0 => b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc".to_vec(),
            1 => b"garbage\r\n\r\n".to_vec(),
            2 => b"".to_vec(),
            _ => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(),
        }))
        .await;
        for _ in 0..4 {
            let e = get(&base, 100).await.unwrap_err();
            assert_eq!(e.kind(), super::super::ErrorKind::Protocol, "{e}");
        }
    }

    #[tokio::test]
    async fn timeout_and_refused() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hold = tokio::spawn(async move {
            let _s = listener.accept().await;
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        let url = Url::parse(&format!("http://{addr}/")).unwrap();
        let req = Request {
            method: "GET",
            url: &url,
            tls: &TlsVerify::default(),
            headers: vec![],
            body: b"",
        };
        let e = send(&req, Duration::from_millis(200), 10)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), super::super::ErrorKind::Timeout);
        hold.abort();
        let _ = hold.await;
        let e = send(&req, Duration::from_secs(2), 10).await.unwrap_err();
        assert_eq!(e.kind(), super::super::ErrorKind::Connection);
        let https = Url::parse("https://127.0.0.1/").unwrap();
        let e = send(
            &Request {
                method: "GET",
                url: &https,
                tls: &TlsVerify::default(),
                headers: vec![],
                body: b"",
            },
            Duration::from_secs(1),
            10,
        )
        .await
        .unwrap_err();
        // With TLS built in, nothing listens on 443 here; without it, https is refused.
        let want = if cfg!(feature = "tls") {
            super::super::ErrorKind::Connection
        } else {
            super::super::ErrorKind::InvalidInput
        };
        assert_eq!(e.kind(), want, "{e}");
    }
}

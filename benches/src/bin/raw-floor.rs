//! The raw floor of peers.sh: the least a recorder can do. For each URL (one thread each):
//! RTSP OPTIONS, DESCRIBE, SETUP (TCP interleaved), PLAY, then copy the socket's bytes to a
//! file without parsing them, until the duration is up. Reads go straight into a 256 KiB
//! buffer that is written out when full (about one write per half second at 4 Mbit/s, as
//! camwire writes one fragment per second): the floor is the reads and wakeups.
//!
//! `--write-each-read` writes every read at once instead (one write syscall per wakeup: the
//! naive floor).
//!
//! `raw-floor [--write-each-read] --duration SECS --out DIR URL...` writes `DIR/raw-I.rtp` (interleaved frames,
//! preceded by whatever of the PLAY answer's tail arrived with them).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Lower-cased header names with their values, in order.
type Headers = Vec<(String, String)>;

/// Sends one request and reads the answer's head and body. Returns (headers, body).
fn request(
    reader: &mut BufReader<TcpStream>,
    method: &str,
    url: &str,
    cseq: u32,
    extra: &str,
) -> io::Result<(Headers, Vec<u8>)> {
    let req = format!(
        "{method} {url} RTSP/1.0\r\nCSeq: {cseq}\r\nUser-Agent: camwire-raw-floor\r\n{extra}\r\n"
    );
    reader.get_mut().write_all(req.as_bytes())?;
    let mut status = String::new();
    reader.read_line(&mut status)?;
    if !status.starts_with("RTSP/1.0 200") {
        return Err(io::Error::other(format!("{method}: {}", status.trim())));
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let len = header(&headers, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0usize);
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    Ok((headers, body))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn record(url: &str, out: &Path, until: Instant, each_read: bool) -> io::Result<u64> {
    let rest = url
        .strip_prefix("rtsp://")
        .ok_or_else(|| io::Error::other("not an rtsp:// URL"))?;
    let host = rest.split('/').next().unwrap_or(rest);
    let addr = if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:554")
    };
    let stream = TcpStream::connect(addr)?;
    let mut r = BufReader::with_capacity(1 << 16, stream);
    request(&mut r, "OPTIONS", url, 1, "")?;
    let (headers, sdp) = request(&mut r, "DESCRIBE", url, 2, "Accept: application/sdp\r\n")?;
    let base = header(&headers, "content-base")
        .unwrap_or(url)
        .trim_end_matches('/')
        .to_string();
    // The first video section's control attribute (or the whole session's).
    let sdp = String::from_utf8_lossy(&sdp);
    let mut in_video = false;
    let mut control = None;
    for line in sdp.lines() {
        if line.starts_with("m=") {
            in_video = line.starts_with("m=video");
        } else if in_video && let Some(c) = line.strip_prefix("a=control:") {
            control = Some(c.trim().to_string());
            break;
        }
    }
    let track = match control.as_deref() {
        Some(c) if c.starts_with("rtsp://") => c.to_string(),
        Some("*") | None => base.clone(),
        Some(c) => format!("{base}/{c}"),
    };
    let (headers, _) = request(
        &mut r,
        "SETUP",
        &track,
        3,
        "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n",
    )?;
    let session = header(&headers, "session")
        .and_then(|s| s.split(';').next())
        .ok_or_else(|| io::Error::other("SETUP: no Session"))?
        .to_string();
    request(
        &mut r,
        "PLAY",
        &base,
        4,
        &format!("Session: {session}\r\nRange: npt=0.000-\r\n"),
    )?;
    let mut file = std::fs::File::create(out)?;
    // Bytes the reader already buffered belong to the stream.
    let buffered = r.buffer().to_vec();
    file.write_all(&buffered)?;
    let mut total = buffered.len() as u64;
    let mut sock = r.into_inner();
    let mut buf = vec![0u8; 256 << 10];
    let mut filled = 0;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
        match sock.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => {
                filled += n;
                total += n as u64;
                if filled == buf.len() || each_read {
                    file.write_all(&buf[..filled])?;
                    filled = 0;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e),
        }
    }
    file.write_all(&buf[..filled])?;
    Ok(total)
}

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let mut duration = 60.0f64;
    let mut dir = PathBuf::from(".");
    let mut urls = Vec::new();
    let mut each_read = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--write-each-read" => each_read = true,
            "--duration" => {
                duration = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--duration needs seconds")?
            }
            "--out" => dir = PathBuf::from(args.next().ok_or("--out needs a directory")?),
            _ => urls.push(a),
        }
    }
    let until = Instant::now() + Duration::from_secs_f64(duration);
    let threads: Vec<_> = urls
        .into_iter()
        .enumerate()
        .map(|(i, url)| {
            let out = dir.join(format!("raw-{}.rtp", i + 1));
            std::thread::spawn(move || (url.clone(), record(&url, &out, until, each_read)))
        })
        .collect();
    let mut failed = 0;
    for t in threads {
        match t.join() {
            Ok((url, Ok(n))) => println!("{url}: {n} bytes"),
            Ok((url, Err(e))) => {
                failed += 1;
                eprintln!("{url}: {e}");
            }
            Err(_) => failed += 1,
        }
    }
    if failed > 0 {
        return Err(format!("{failed} stream(s) failed"));
    }
    Ok(())
}

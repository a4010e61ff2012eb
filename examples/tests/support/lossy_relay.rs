//! A lossy RTSP/UDP relay on loopback for the packet-loss tests: camwire (or ffmpeg, or
//! GStreamer) talks RTSP to the relay, the relay talks to the real server, and the RTP packets
//! of every UDP session pass through a seeded [`camwire::rtp::lossy::Impairment`] (drop,
//! reorder, duplicate). RTCP passes clean.
//!
//! For RTP over UDP the relay owns the port mapping: in SETUP it replaces the client's
//! `client_port` with a pair of its own (facing the server), and in the answer the server's
//! `server_port` with another pair (facing the client) and `client_port` back to the client's.
//! URLs naming the server's address are rewritten both ways (Content-Length follows).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use camwire::rtp::lossy::{Fate, Impairment, ImpairmentOptions, ImpairmentStats};

/// What happened to each RTP packet from the server: (sequence number, RTP timestamp, fate).
pub type PacketLog = Arc<Mutex<Vec<(u16, u32, Fate)>>>;

pub struct LossyRelay {
    pub url: String,
    pub log: PacketLog,
    pub stats: Arc<Mutex<ImpairmentStats>>,
    stop: Arc<AtomicBool>,
}

impl Drop for LossyRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Two adjacent UDP ports (even, odd) on loopback.
fn udp_pair() -> (UdpSocket, UdpSocket) {
    for _ in 0..100 {
        let a = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let p = a.local_addr().expect("addr").port();
        if p.is_multiple_of(2)
            && let Ok(b) = UdpSocket::bind(("127.0.0.1", p + 1))
        {
            return (a, b);
        }
    }
    panic!("no adjacent UDP ports");
}

struct PendingSetup {
    client: (u16, u16),
    facing_server: (UdpSocket, UdpSocket),
}

impl LossyRelay {
    /// Relays `server_url` (`rtsp://127.0.0.1:PORT/path`), accepting clients until dropped.
    pub fn start(server_url: &str, opts: ImpairmentOptions) -> LossyRelay {
        let rest = server_url.strip_prefix("rtsp://").expect("rtsp url");
        let (server_host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let server_addr: SocketAddr = server_host.parse().expect("server address");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind relay");
        let relay_host = listener.local_addr().expect("addr").to_string();
        let url = format!("rtsp://{relay_host}/{path}");
        let log: PacketLog = Arc::default();
        let stats = Arc::new(Mutex::new(ImpairmentStats::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (l2, s2, st2) = (log.clone(), stats.clone(), stop.clone());
        let (sh, rh) = (server_host.to_string(), relay_host.clone());
        std::thread::spawn(move || {
            listener.set_nonblocking(true).expect("nonblocking");
            while !st2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let _ = client.set_nonblocking(false);
                        let server = TcpStream::connect(server_addr).expect("connect server");
                        session(
                            client,
                            server,
                            sh.clone(),
                            rh.clone(),
                            opts,
                            l2.clone(),
                            s2.clone(),
                            st2.clone(),
                        );
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        LossyRelay {
            url,
            log,
            stats,
            stop,
        }
    }

    /// Of the last `k` frames (in the order first seen), those none of whose packets was
    /// dropped: the frames a recording that started at a later keyframe could hold.
    pub fn whole_in_last(&self, k: usize) -> usize {
        let log = self.log.lock().unwrap();
        let mut order: Vec<u32> = Vec::new();
        let mut hit = std::collections::BTreeSet::new();
        for &(_, ts, fate) in log.iter() {
            if !order.contains(&ts) {
                order.push(ts);
            }
            if fate == Fate::Dropped {
                hit.insert(ts);
            }
        }
        let start = order.len().saturating_sub(k);
        order[start..].iter().filter(|t| !hit.contains(*t)).count()
    }

    /// Frames (RTP timestamps) seen, and those none of whose packets was dropped.
    pub fn frames(&self) -> (usize, usize) {
        let log = self.log.lock().unwrap();
        let mut all = std::collections::BTreeSet::new();
        let mut hit = std::collections::BTreeSet::new();
        for &(_, ts, fate) in log.iter() {
            all.insert(ts);
            if fate == Fate::Dropped {
                hit.insert(ts);
            }
        }
        (all.len(), all.len() - hit.len())
    }
}

/// One RTSP message: start line + headers, and body.
fn read_message(r: &mut BufReader<TcpStream>) -> Option<(Vec<String>, Vec<u8>)> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        if line.is_empty() {
            if lines.is_empty() {
                continue;
            }
            break;
        }
        lines.push(line);
    }
    let len = lines
        .iter()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).ok()?;
    Some((lines, body))
}

fn write_message(w: &mut TcpStream, lines: &[String], body: &[u8]) -> std::io::Result<()> {
    let mut out = String::new();
    for l in lines {
        let is_len = l
            .split_once(':')
            .is_some_and(|(k, _)| k.eq_ignore_ascii_case("content-length"));
        if !is_len {
            out.push_str(l);
            out.push_str("\r\n");
        }
    }
    if !body.is_empty() {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    w.write_all(out.as_bytes())?;
    w.write_all(body)
}

/// `key=A-B` in a Transport header line.
fn port_pair(line: &str, key: &str) -> Option<(u16, u16)> {
    let at = line.find(&format!("{key}="))? + key.len() + 1;
    let rest = &line[at..];
    let end = rest.find([';', ',', ' ']).unwrap_or(rest.len());
    let (a, b) = rest[..end].split_once('-')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

fn set_pair(line: &str, key: &str, to: (u16, u16)) -> String {
    match port_pair(line, key) {
        Some(from) => line.replace(
            &format!("{key}={}-{}", from.0, from.1),
            &format!("{key}={}-{}", to.0, to.1),
        ),
        None => line.to_string(),
    }
}

#[allow(clippy::too_many_arguments)]
fn session(
    client: TcpStream,
    server: TcpStream,
    server_host: String,
    relay_host: String,
    opts: ImpairmentOptions,
    log: PacketLog,
    stats: Arc<Mutex<ImpairmentStats>>,
    stop: Arc<AtomicBool>,
) {
    let pending: Arc<Mutex<Option<PendingSetup>>> = Arc::default();
    // Client → server: requests.
    {
        let (mut r, mut w) = (
            BufReader::new(client.try_clone().expect("clone")),
            server.try_clone().expect("clone"),
        );
        let (pending, sh, rh) = (pending.clone(), server_host.clone(), relay_host.clone());
        std::thread::spawn(move || {
            while let Some((mut lines, body)) = read_message(&mut r) {
                for l in &mut lines {
                    *l = l.replace(&rh, &sh);
                    if l.to_ascii_lowercase().starts_with("transport:")
                        && let Some(client_ports) = port_pair(l, "client_port")
                    {
                        let (a, b) = udp_pair();
                        let p = a.local_addr().expect("addr").port();
                        *l = set_pair(l, "client_port", (p, p + 1));
                        *pending.lock().unwrap() = Some(PendingSetup {
                            client: client_ports,
                            facing_server: (a, b),
                        });
                    }
                }
                let body = String::from_utf8_lossy(&body)
                    .replace(&rh, &sh)
                    .into_bytes();
                if write_message(&mut w, &lines, &body).is_err() {
                    break;
                }
            }
            let _ = w.shutdown(std::net::Shutdown::Both);
        });
    }
    // Server → client: responses.
    let (mut r, mut w) = (BufReader::new(server), client);
    std::thread::spawn(move || {
        while let Some((mut lines, body)) = read_message(&mut r) {
            for l in &mut lines {
                *l = l.replace(&server_host, &relay_host);
                if l.to_ascii_lowercase().starts_with("transport:")
                    && let Some(server_ports) = port_pair(l, "server_port")
                    && let Some(setup) = pending.lock().unwrap().take()
                {
                    let (c_rtp, c_rtcp) = udp_pair();
                    let q = c_rtp.local_addr().expect("addr").port();
                    let theirs = port_pair(l, "client_port").unwrap_or((0, 0));
                    *l = set_pair(l, "server_port", (q, q + 1));
                    if theirs != (0, 0) {
                        *l = set_pair(l, "client_port", setup.client);
                    }
                    forward(
                        setup,
                        (c_rtp, c_rtcp),
                        server_ports,
                        opts,
                        log.clone(),
                        stats.clone(),
                        stop.clone(),
                    );
                }
            }
            let body = String::from_utf8_lossy(&body)
                .replace(&server_host, &relay_host)
                .into_bytes();
            if write_message(&mut w, &lines, &body).is_err() {
                break;
            }
        }
        let _ = w.shutdown(std::net::Shutdown::Both);
    });
}

/// Datagrams both ways: RTP from the server through the lossy path, everything else clean.
fn forward(
    setup: PendingSetup,
    facing_client: (UdpSocket, UdpSocket),
    server_ports: (u16, u16),
    opts: ImpairmentOptions,
    log: PacketLog,
    stats: Arc<Mutex<ImpairmentStats>>,
    stop: Arc<AtomicBool>,
) {
    let client = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
    let (s_rtp, s_rtcp) = setup.facing_server;
    let (c_rtp, c_rtcp) = facing_client;
    let pairs = [
        // (from, to socket, destination, lossy)
        (
            s_rtp.try_clone().unwrap(),
            c_rtp.try_clone().unwrap(),
            client(setup.client.0),
            true,
        ),
        (
            s_rtcp.try_clone().unwrap(),
            c_rtcp.try_clone().unwrap(),
            client(setup.client.1),
            false,
        ),
        (c_rtp, s_rtp, client(server_ports.0), false),
        (c_rtcp, s_rtcp, client(server_ports.1), false),
    ];
    for (from, to, dest, lossy) in pairs {
        let (log, stats, stop) = (log.clone(), stats.clone(), stop.clone());
        std::thread::spawn(move || {
            from.set_read_timeout(Some(Duration::from_millis(50)))
                .unwrap();
            let mut path: Impairment<Vec<u8>> = Impairment::new(opts);
            let mut out = Vec::new();
            let mut buf = vec![0u8; 65536];
            let mut last = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                match from.recv(&mut buf) {
                    Ok(n) => {
                        last = Instant::now();
                        let pkt = buf[..n].to_vec();
                        if !lossy {
                            let _ = to.send_to(&pkt, dest);
                            continue;
                        }
                        let (seq, ts) = if n >= 12 {
                            (
                                u16::from_be_bytes([pkt[2], pkt[3]]),
                                u32::from_be_bytes([pkt[4], pkt[5], pkt[6], pkt[7]]),
                            )
                        } else {
                            (0, 0)
                        };
                        let fate = path.push(pkt, &mut out);
                        log.lock().unwrap().push((seq, ts, fate));
                        *stats.lock().unwrap() = path.stats();
                        for p in out.drain(..) {
                            let _ = to.send_to(&p, dest);
                        }
                    }
                    Err(_) => {
                        if lossy && last.elapsed() > Duration::from_millis(100) {
                            // Quiet: what is held back goes out.
                            path.finish(&mut out);
                            for p in out.drain(..) {
                                let _ = to.send_to(&p, dest);
                            }
                        }
                    }
                }
            }
        });
    }
}

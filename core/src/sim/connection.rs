//! One RTSP connection: read requests, answer them, and send the session's media when due.
//!
//! A single task owns the socket. Each loop turn waits (in `select!`) for either request bytes
//! or the next access unit's due time, then does the work outside the `select!`, so a write is
//! never cancelled halfway and responses and interleaved packets never interleave mid-message.
//! A session belongs to its connection: garbage, an error or a disconnect ends this connection
//! and its session only.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf as _, BytesMut};
use rand::Rng as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::audio::AudioStreamer;
use super::auth::{DigestAuth, Verdict, new_nonce};
use super::clip::{FPS, parsed_of};
use super::hostile;
use super::recording::{Plan, RECORDING_TOKEN, REPLAY_PATH_PREFIX, now_nanos};
use super::replay::{Cursor, Frames, clock_time, parse_clock_range};
use super::request::{self, ParseError, Parsed, Request, Response, uri_path};
use super::server::Shared;
use super::stream::{Due, Sink, Streamer};
use super::transport;
use super::{PAYLOAD_TYPE, STREAM_PATH};

/// Session timeout announced in the `Session` header, in seconds.
const SESSION_TIMEOUT_S: u32 = 60;
/// The video track's control name, relative to the Content-Base.
const TRACK: &str = "trackID=0";
/// The audio track's control name ([`super::SimOptions::audio`], live only).
const AUDIO_TRACK: &str = "trackID=1";
/// The RTSP feature tag of ONVIF replay.
const ONVIF_REPLAY: &str = "onvif-replay";

/// Which presentation a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// The live stream, `/stream`.
    Live,
    /// The recording, `/replay/<token>` (only when the sim has one).
    Replay,
}

/// Whether a URL path is a presentation or one of its tracks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Presentation,
    /// The video, `trackID=0`.
    Video,
    /// The audio, `trackID=1` (live, and only when the sim serves audio).
    Audio,
}

/// Which of a session's streams is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Which {
    Video,
    Audio,
}

/// A set-up session: its id and its senders, one per stream set up. Counted in
/// `active_sessions` from creation until dropped (TEARDOWN, a replacing SETUP, disconnect, or
/// the sim stopping).
struct Session {
    id: String,
    video: Option<Streamer>,
    audio: Option<AudioStreamer>,
    served: bool,
    kind: Kind,
    shared: Arc<Shared>,
}

impl Session {
    fn new(id: String, kind: Kind, shared: Arc<Shared>) -> Session {
        shared.counters.session_opened();
        Session {
            id,
            video: None,
            audio: None,
            served: false,
            kind,
            shared,
        }
    }

    fn is_playing(&self) -> bool {
        self.video.as_ref().is_some_and(Streamer::is_playing)
            || self.audio.as_ref().is_some_and(AudioStreamer::is_playing)
    }

    fn pause(&mut self) {
        if let Some(v) = self.video.as_mut() {
            v.pause();
        }
        if let Some(a) = self.audio.as_mut() {
            a.pause();
        }
    }

    /// The stream whose next packet is due first. Both follow one schedule, so paced streams
    /// interleave by due time; unpaced ones (both always due now) by media time, so neither
    /// runs ahead of the other.
    fn next_due(&self) -> Option<(Due, Which)> {
        // `None` (due now) sorts before any instant.
        let rank = |d: Due| match d {
            Due::Now => None,
            Due::At(t) => Some(t),
        };
        let video = self
            .video
            .as_ref()
            .and_then(|v| Some((v.next_due()?, v.media_time(), Which::Video)));
        let audio = self
            .audio
            .as_ref()
            .and_then(|a| Some((a.next_due()?, a.media_time(), Which::Audio)));
        let pick = match (video, audio) {
            (Some(v), Some(a)) => {
                if (rank(v.0), v.1) <= (rank(a.0), a.1) {
                    v
                } else {
                    a
                }
            }
            (v, a) => v.or(a)?,
        };
        Some((pick.0, pick.2))
    }

    async fn send<W: tokio::io::AsyncWrite + Unpin>(
        &mut self,
        which: Which,
        wr: &mut W,
    ) -> std::io::Result<()> {
        match which {
            Which::Video => match self.video.as_mut() {
                Some(v) => v.send_next(wr).await,
                None => Ok(()),
            },
            Which::Audio => match self.audio.as_mut() {
                Some(a) => a.send_next(wr).await,
                None => Ok(()),
            },
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.shared.counters.session_closed();
    }
}

struct Connection {
    shared: Arc<Shared>,
    local: SocketAddr,
    peer: SocketAddr,
    /// The Digest nonce issued on this connection.
    nonce: String,
    session: Option<Session>,
}

/// Serves one client until it disconnects, misbehaves or the sim stops.
pub(crate) async fn serve(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    let local = match stream.local_addr() {
        Ok(a) => a,
        Err(_) => return,
    };
    let mut conn = Connection {
        shared,
        local,
        peer,
        nonce: new_nonce(),
        session: None,
    };
    let result = match conn.shared.opts.drop_after {
        // Dropping the future closes the socket: the client sees the connection go away.
        Some(d) => match tokio::time::timeout(d, conn.run(stream)).await {
            Ok(r) => r,
            Err(_) => {
                log::debug!("sim: dropping the connection from {peer} after {d:?}");
                Ok(())
            }
        },
        None => conn.run(stream).await,
    };
    if let Err(e) = result {
        log::debug!("sim: connection from {peer} ended: {e}");
    }
}

impl Connection {
    async fn run(&mut self, stream: TcpStream) -> std::io::Result<()> {
        let hostile = self.shared.opts.hostile;
        hostile::prepare_socket(hostile, &stream);
        let (mut rd, mut wr) = stream.into_split();
        let mut buf = BytesMut::with_capacity(16 * 1024);
        loop {
            let due = self.session.as_ref().and_then(Session::next_due);
            tokio::select! {
                biased;
                read = rd.read_buf(&mut buf) => {
                    if read? == 0 {
                        return Ok(());
                    }
                    // Answer every complete request in the buffer.
                    loop {
                        match request::parse(&buf) {
                            Ok(None) => break,
                            Ok(Some((Parsed::Interleaved { .. }, used))) => buf.advance(used),
                            Ok(Some((Parsed::Request(req), used))) => {
                                buf.advance(used);
                                let resp = self.handle(&req);
                                log::debug!(
                                    "sim: {} {} {} -> {}",
                                    self.peer, req.method, req.uri, resp.status()
                                );
                                let bytes = resp.to_bytes(req.cseq());
                                hostile::write_response(hostile, &mut wr, &bytes).await?;
                            }
                            Err(e) => {
                                let resp = Response::new(400).header("Connection", "close");
                                let _ = wr.write_all(&resp.to_bytes(None)).await;
                                return Err(std::io::Error::new(
                                    std::io::ErrorKind::InvalidData,
                                    bad_request(e),
                                ));
                            }
                        }
                    }
                    if buf.capacity() - buf.len() < 4096 {
                        buf.reserve(16 * 1024);
                    }
                }
                () = wait(due.map(|d| d.0)), if due.is_some() => {
                    if let (Some(s), Some((_, which))) = (self.session.as_mut(), due) {
                        s.send(which, &mut wr).await?;
                    }
                }
            }
        }
    }

    /// Answers one request, changing session state as it says.
    fn handle(&mut self, req: &Request) -> Response {
        if !req.version.starts_with("RTSP/1.") {
            return Response::new(505);
        }
        if req.cseq().is_none() {
            return Response::new(400);
        }
        if req.method != "OPTIONS"
            && let Some(auth) = &self.shared.auth
            && let Some(denied) = self.authorize(auth, req)
        {
            return denied;
        }
        if req.method != "OPTIONS"
            && let Some(refused) = self.check_require(req)
        {
            return refused;
        }
        match req.method.as_str() {
            "OPTIONS" => Response::new(200).header(
                "Public",
                "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, GET_PARAMETER, TEARDOWN",
            ),
            "DESCRIBE" => self.describe(req),
            "SETUP" => self.setup(req),
            "PLAY" => self.play(req),
            "PAUSE" => match self.own_session(req) {
                Ok(s) => {
                    s.pause();
                    Response::new(200).header("Session", session_header(&s.id))
                }
                Err(r) => r,
            },
            "GET_PARAMETER" => match (req.session(), &self.session) {
                (None, _) => Response::new(200),
                (Some(id), Some(s)) if id == s.id => {
                    Response::new(200).header("Session", session_header(&s.id))
                }
                (Some(_), _) => Response::new(454),
            },
            "TEARDOWN" => match self.own_session(req) {
                Ok(_) => {
                    self.session = None;
                    Response::new(200)
                }
                Err(r) => r,
            },
            _ => Response::new(501),
        }
    }

    /// `None` when the request is authorized, else the 401 to send.
    fn authorize(&self, auth: &DigestAuth, req: &Request) -> Option<Response> {
        let verdict = match req.header("Authorization") {
            None => Verdict::Denied,
            Some(h) => auth.verify(&req.method, &req.uri, h, &self.nonce),
        };
        match verdict {
            Verdict::Allowed => None,
            Verdict::Stale | Verdict::Denied => Some(Response::new(401).header(
                "WWW-Authenticate",
                DigestAuth::challenge(&self.nonce, verdict == Verdict::Stale),
            )),
        }
    }

    fn classify(&self, path: &str) -> Option<(Kind, Part)> {
        classify(
            path,
            self.shared.recording.is_some(),
            self.shared.opts.audio.is_some(),
        )
    }

    /// The base URL of a presentation (the Content-Base, without its trailing slash).
    fn base_url(&self, kind: Kind) -> String {
        match kind {
            Kind::Live => format!("rtsp://{}{STREAM_PATH}", self.local),
            Kind::Replay => format!("rtsp://{}{REPLAY_PATH_PREFIX}{RECORDING_TOKEN}", self.local),
        }
    }

    /// `Require`: only `onvif-replay`, and only on the replay URL. Anything else is
    /// `551 Option not supported` naming what is not (RFC 2326 section 12.32), as a camera
    /// without Profile G answers `Require: onvif-replay`.
    fn check_require(&self, req: &Request) -> Option<Response> {
        let tags = req.header("Require")?;
        let replay = self
            .classify(uri_path(&req.uri))
            .is_some_and(|(k, _)| k == Kind::Replay);
        let unsupported: Vec<&str> = tags
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .filter(|t| !(replay && t.eq_ignore_ascii_case(ONVIF_REPLAY)))
            .collect();
        (!unsupported.is_empty())
            .then(|| Response::new(551).header("Unsupported", unsupported.join(", ")))
    }

    fn describe(&self, req: &Request) -> Response {
        let Some((kind, Part::Presentation)) = self.classify(uri_path(&req.uri)) else {
            return Response::new(404);
        };
        let mut sdp = self.sdp(kind);
        if kind == Kind::Replay
            && let Some(plan) = self.shared.recording
        {
            // The ONVIF track reference, and the recording's time span.
            sdp = sdp.replace(
                "a=range:npt=0-\r\n",
                &format!("a=range:clock={}-\r\n", clock_time(plan.start_ns)),
            );
            sdp.push_str("a=x-onvif-track:VIDEO001\r\n");
        }
        Response::new(200)
            .header("Content-Base", format!("{}/", self.base_url(kind)))
            .body(
                "application/sdp",
                hostile::sdp(self.shared.opts.hostile, sdp).into_bytes(),
            )
    }

    /// The session description: the video track with its parameter sets (RFC 6184 section 8.2
    /// or RFC 7798 section 7.2), then on the live stream the audio track when the sim has one
    /// (replay is video only).
    fn sdp(&self, kind: Kind) -> String {
        let clip = parsed_of(self.shared.opts.video_codec);
        let (encoding, fmtp) = clip.sdp_format();
        let ip = self.local.ip();
        let family = if ip.is_ipv4() { "IP4" } else { "IP6" };
        let session_id: u32 = rand::thread_rng().r#gen();
        let mut sdp = format!(
            "v=0\r\n\
             o=- {session_id} 1 IN {family} {ip}\r\n\
             s=camwire sim\r\n\
             c=IN {family} {ip}\r\n\
             t=0 0\r\n\
             a=tool:camwire-sim\r\n\
             a=range:npt=0-\r\n\
             a=control:*\r\n\
             m=video 0 RTP/AVP {PAYLOAD_TYPE}\r\n\
             a=rtpmap:{PAYLOAD_TYPE} {encoding}\r\n\
             a=fmtp:{PAYLOAD_TYPE} {fmtp}\r\n\
             a=control:{TRACK}\r\n\
             a=framerate:{FPS}\r\n",
        );
        if let (Kind::Live, Some(audio)) = (kind, self.shared.opts.audio) {
            sdp.push_str(&audio.sdp_media(AUDIO_TRACK));
        }
        sdp
    }

    fn setup(&mut self, req: &Request) -> Response {
        // Lenient clients SETUP the aggregate URL itself: that is the video.
        let Some((kind, part)) = self.classify(uri_path(&req.uri)) else {
            return Response::new(404);
        };
        match (req.session(), &self.session) {
            (Some(id), Some(s)) if id != s.id => return Response::new(454),
            (Some(_), None) => return Response::new(454),
            (_, Some(s)) if s.is_playing() => return Response::new(455),
            _ => {}
        }
        let Some(spec) = req.header("Transport").and_then(transport::choose) else {
            return Response::new(461);
        };
        let sink = match Sink::new(spec, self.local.ip(), self.peer.ip()) {
            Ok(s) => s,
            Err(e) => {
                log::warn!("sim: cannot bind UDP ports: {e}");
                return Response::new(500);
            }
        };
        // A SETUP naming the session adds its stream to it (or replaces that stream's
        // transport when it was set up already); one without a session starts over.
        let mut session = match self.session.take() {
            Some(old) if req.session().is_some() && old.kind == kind => old,
            Some(old) => Session::new(old.id.clone(), kind, self.shared.clone()),
            None => {
                let id: u64 = rand::thread_rng().r#gen();
                Session::new(format!("{id:016X}"), kind, self.shared.clone())
            }
        };
        let answer = match (part, self.shared.opts.audio) {
            (Part::Audio, Some(audio)) => {
                let a = AudioStreamer::new(sink, self.shared.clone(), audio);
                let answer = transport::answer(spec, a.server_ports(), a.ssrc);
                session.audio = Some(a);
                answer
            }
            _ => {
                let v = Streamer::new(sink, self.shared.clone());
                let answer = transport::answer(spec, v.server_ports(), v.ssrc);
                session.video = Some(v);
                answer
            }
        };
        let resp = Response::new(200)
            .header("Transport", answer)
            .header("Session", session_header(&session.id));
        self.session = Some(session);
        resp
    }

    fn play(&mut self, req: &Request) -> Response {
        let Some((kind, _)) = self.classify(uri_path(&req.uri)) else {
            return Response::new(404);
        };
        let base = self.base_url(kind);
        let local = self.local;
        let plan = self.shared.recording;
        let s = match self.own_session(req) {
            Ok(s) => s,
            Err(r) => return r,
        };
        if s.kind != kind {
            return Response::new(455);
        }
        if kind == Kind::Replay {
            return match plan {
                Some(plan) => replay_play(s, req, plan, &base),
                None => Response::new(404),
            };
        }
        if !s.served {
            s.served = true;
            s.shared.counters.client_served();
        }
        // Aggregate PLAY: every stream set up starts on one schedule (the video's).
        let mut rtp_info = Vec::new();
        let mut schedule = None;
        if let Some(v) = s.video.as_mut() {
            let (seq, rtptime) = v.next_seq_and_rtptime();
            v.play();
            schedule = v.schedule();
            rtp_info.push(format!(
                "url=rtsp://{local}{STREAM_PATH}/{TRACK};seq={seq};rtptime={rtptime}"
            ));
        }
        if let Some(a) = s.audio.as_mut() {
            let (seq, rtptime) = a.next_seq_and_rtptime();
            match schedule {
                Some((anchor, anchor_ntp)) => a.play_at(anchor, anchor_ntp),
                None => a.play(),
            }
            rtp_info.push(format!(
                "url=rtsp://{local}{STREAM_PATH}/{AUDIO_TRACK};seq={seq};rtptime={rtptime}"
            ));
        }
        Response::new(200)
            .header("Session", session_header(&s.id))
            .header("Range", "npt=0.000-")
            .header("RTP-Info", rtp_info.join(","))
    }

    /// The connection's session when the request names it: 454 when it names another or none,
    /// 455 when no SETUP came first.
    fn own_session(&mut self, req: &Request) -> Result<&mut Session, Response> {
        match (req.session(), self.session.as_mut()) {
            (Some(id), Some(s)) if id == s.id => Ok(s),
            (None, None) => Err(Response::new(455)),
            _ => Err(Response::new(454)),
        }
    }
}

fn bad_request(e: ParseError) -> String {
    format!("bad request: {e}")
}

fn session_header(id: &str) -> String {
    format!("{id};timeout={SESSION_TIMEOUT_S}")
}

/// Which presentation and part `path` names, if any: `/stream` or, when the sim has a
/// recording, `/replay/<token>`; the aggregate URL with or without the Content-Base's
/// trailing slash, or a track (the audio one only live, and only when `audio`).
fn classify(path: &str, recording: bool, audio: bool) -> Option<(Kind, Part)> {
    let (kind, rest) = if let Some(rest) = path.strip_prefix(STREAM_PATH) {
        (Kind::Live, rest)
    } else {
        let rest = path
            .strip_prefix(REPLAY_PATH_PREFIX)?
            .strip_prefix(RECORDING_TOKEN)?;
        if !recording {
            return None;
        }
        (Kind::Replay, rest)
    };
    match rest {
        "" | "/" => Some((kind, Part::Presentation)),
        r if r.strip_prefix('/') == Some(TRACK) => Some((kind, Part::Video)),
        r if audio && kind == Kind::Live && r.strip_prefix('/') == Some(AUDIO_TRACK) => {
            Some((kind, Part::Audio))
        }
        _ => None,
    }
}

/// PLAY of a replay session: `Require: onvif-replay`, `Range: clock=`, `Rate-Control`,
/// `Immediate` (see `replay.rs`).
fn replay_play(s: &mut Session, req: &Request, plan: Plan, base: &str) -> Response {
    let required = req.header("Require").is_some_and(|r| {
        r.split(',')
            .any(|t| t.trim().eq_ignore_ascii_case(ONVIF_REPLAY))
    });
    if !required {
        return Response::new(551).header("Unsupported", ONVIF_REPLAY);
    }
    if s.video.is_none() {
        // Replay is video only, and nothing else was set up.
        return Response::new(455);
    }
    let paced = match req.header("Rate-Control").map(str::trim) {
        None => true,
        Some(v) if v.eq_ignore_ascii_case("yes") => true,
        Some(v) if v.eq_ignore_ascii_case("no") => false,
        Some(_) => return Response::new(400),
    };
    let frames = match req.header("Frames").map(Frames::parse) {
        None => Frames::All,
        Some(Some(f)) => f,
        Some(None) => return Response::new(400),
    };
    let cseq = req
        .cseq()
        .and_then(|c| c.trim().parse::<u32>().ok())
        .map_or(0, |c| (c & 0xff) as u8);
    let resume =
        req.header("Range").is_none() && s.video.as_mut().and_then(Streamer::cursor).is_some();
    if resume {
        if let Some(c) = s.video.as_mut().and_then(Streamer::cursor) {
            c.resume(cseq);
            c.set_frames(frames);
        }
    } else {
        let (t1, t2) = match req.header("Range") {
            None => (plan.start_ns, None),
            Some(r) => match parse_clock_range(r) {
                Some(range) => range,
                None => return Response::new(457),
            },
        };
        match Cursor::seek(plan, t1, t2, now_nanos(), cseq) {
            Ok(mut c) => {
                c.set_frames(frames);
                if let Some(v) = s.video.as_mut() {
                    v.replay(c, paced);
                }
            }
            Err(_) => return Response::new(457),
        }
    }
    if !s.served {
        s.served = true;
        s.shared.counters.client_served();
    }
    let (from, to) = match s.video.as_mut().and_then(Streamer::cursor) {
        Some(c) => (c.start_time(), c.end_time()),
        None => return Response::new(500),
    };
    let Some(video) = s.video.as_mut() else {
        return Response::new(455);
    };
    let (seq, rtptime) = video.next_seq_and_rtptime();
    video.play();
    let mut resp = Response::new(200)
        .header("Session", session_header(&s.id))
        .header(
            "Range",
            format!("clock={}-{}", clock_time(from), clock_time(to)),
        )
        .header(
            "RTP-Info",
            format!("url={base}/{TRACK};seq={seq};rtptime={rtptime}"),
        )
        .header("Rate-Control", if paced { "yes" } else { "no" });
    if req.header("Scale").is_some() {
        // Forward at normal speed, whatever was asked.
        resp = resp.header("Scale", "1.0");
    }
    resp
}

/// Waits until an access unit is due. `Due::Now` is ready at once; the `biased` select still
/// checks for requests first on every turn.
async fn wait(due: Option<Due>) {
    match due {
        Some(Due::At(t)) => tokio::time::sleep_until(t).await,
        Some(Due::Now) => {}
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_paths() {
        let live = |p| classify(p, true, false);
        assert_eq!(live("/stream"), Some((Kind::Live, Part::Presentation)));
        assert_eq!(live("/stream/"), Some((Kind::Live, Part::Presentation)));
        assert_eq!(live("/streams"), None);
        assert_eq!(live("/stream/trackID=0"), Some((Kind::Live, Part::Video)));
        assert_eq!(live("/stream/trackID=1"), None);
        assert_eq!(live("/other/trackID=0"), None);
        assert_eq!(
            live("/replay/SimRecording_1/trackID=0"),
            Some((Kind::Replay, Part::Video))
        );
        assert_eq!(
            live("/replay/SimRecording_1/"),
            Some((Kind::Replay, Part::Presentation))
        );
        assert_eq!(live("/replay/SimRecording_2"), None);
        assert_eq!(classify("/replay/SimRecording_1", false, false), None);
        let av = |p| classify(p, true, true);
        assert_eq!(av("/stream/trackID=1"), Some((Kind::Live, Part::Audio)));
        assert_eq!(av("/stream/trackID=0"), Some((Kind::Live, Part::Video)));
        assert_eq!(
            av("/replay/SimRecording_1/trackID=1"),
            None,
            "replay is video only"
        );
        assert_eq!(av("/stream/trackID=2"), None);
    }
}

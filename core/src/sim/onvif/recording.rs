//! The sim's Profile G services: Recording Search (`tse`), Replay (`trp`) and the read-only
//! part of Recording (`trc`), over the one recording of [`crate::sim::recording`].
//!
//! - Search: GetRecordingSummary, GetRecordingInformation, GetMediaAttributes,
//!   FindRecordings + GetRecordingSearchResults, FindEvents + GetEventSearchResults
//!   (`tns1:RecordingHistory/Track/State`, `IsDataPresent` true at the start and after the
//!   gap, false at the gap; the start state at StartPoint with IncludeStartState; time order,
//!   descending when EndPoint is before StartPoint), EndSearch.
//! - Search sessions behave as the spec says: a Find starts a session with a token; results
//!   pages hold at most MaxResults (default 100) and are never repeated; the page that holds
//!   the last results says `Completed` and ends the session; a session also ends at
//!   EndSearch or after KeepAliveTime (default 10 s, at most 60 s) without a request. An
//!   unknown or ended token is the fault `ter:InvalidArgVal/ter:InvalidToken`. At most
//!   [`MAX_SESSIONS`] sessions live at once.
//! - Replay: GetReplayUri (`rtsp://IP:PORT/replay/<token>`; RTP-Multicast refused with
//!   `ter:InvalidStreamSetup`, an unknown token is `ter:InvalidArgVal/ter:NoRecording`),
//!   GetReplayConfiguration.
//! - Recording: GetRecordings, GetRecordingJobs (none: the sim records by itself).
//! - GetServiceCapabilities of each, by the path it is sent to.
//!
//! The recording has status `Recording`: its latest time is now, and no event marks an end.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::soap::{Fault, parse_xsd_duration};
use crate::onvif::xml::{Element, escape};
use crate::sim::recording::{
    Plan, RECORDING_TOKEN, REPLAY_PATH_PREFIX, TRACK_TOKEN, now_nanos, show,
};

/// The Recording Search namespace.
pub(crate) const SEARCH_NS: &str = "http://www.onvif.org/ver10/search/wsdl";
/// The Replay namespace.
pub(crate) const REPLAY_NS: &str = "http://www.onvif.org/ver10/replay/wsdl";
/// The Recording Control namespace.
pub(crate) const RECORDING_NS: &str = "http://www.onvif.org/ver10/recording/wsdl";
/// The Search service path.
pub(crate) const SEARCH_PATH: &str = "/onvif/search_service";
/// The Replay service path.
pub(crate) const REPLAY_PATH: &str = "/onvif/replay_service";
/// The Recording service path.
pub(crate) const RECORDING_PATH: &str = "/onvif/recording_service";

/// Search sessions alive at once; a Find beyond this is refused (`ter:ResourceProblem`).
pub(crate) const MAX_SESSIONS: usize = 16;
/// Largest results page.
const MAX_PAGE: usize = 100;
const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(10);
const MAX_KEEPALIVE: Duration = Duration::from_secs(60);
/// Results one FindEvents may hold (the recording has at most four state changes, but a
/// bound keeps a session's memory fixed whatever is asked).
const MAX_EVENTS: usize = 64;

/// One search session: what it still has to return.
struct Session {
    events: bool,
    pending: Vec<String>,
    keepalive: Duration,
    touched: Instant,
}

/// The Profile G face's state: the recording and the live search sessions.
pub(crate) struct ProfileG {
    plan: Plan,
    sessions: Mutex<Sessions>,
}

#[derive(Default)]
struct Sessions {
    next: u64,
    live: HashMap<String, Session>,
}

impl Sessions {
    fn prune(&mut self) {
        self.live.retain(|_, s| s.touched.elapsed() <= s.keepalive);
    }
}

fn wrap(ns_prefix: &str, ns: &str, op: &str, inner: &str) -> String {
    format!("<{ns_prefix}:{op} xmlns:{ns_prefix}=\"{ns}\">{inner}</{ns_prefix}:{op}>")
}

fn search(op: &str, inner: &str) -> String {
    wrap("tse", SEARCH_NS, op, inner)
}

fn invalid_token(t: &str) -> Fault {
    Fault::invalid_arg("ter:InvalidToken", format!("unknown token {t:?}"))
}

impl ProfileG {
    pub(crate) fn new(plan: Plan) -> ProfileG {
        ProfileG {
            plan,
            sessions: Mutex::new(Sessions::default()),
        }
    }

    /// The GetServices entries of the three services.
    pub(crate) fn services(base: &str) -> String {
        [
            (SEARCH_NS, SEARCH_PATH),
            (REPLAY_NS, REPLAY_PATH),
            (RECORDING_NS, RECORDING_PATH),
        ]
        .iter()
        .map(|(ns, path)| {
            format!(
                "<tds:Service><tds:Namespace>{ns}</tds:Namespace><tds:XAddr>{base}{path}</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>40</tt:Minor></tds:Version></tds:Service>"
            )
        })
        .collect()
    }

    /// GetCapabilities' `Extension` with the three services (older clients look there).
    pub(crate) fn capabilities_extension(base: &str) -> String {
        format!(
            concat!(
                "<tt:Extension>",
                "<tt:Recording><tt:XAddr>{base}{rec}</tt:XAddr><tt:ReceiverSource>false</tt:ReceiverSource><tt:MediaProfileSource>true</tt:MediaProfileSource><tt:DynamicRecordings>false</tt:DynamicRecordings><tt:DynamicTracks>false</tt:DynamicTracks><tt:MaxStringLength>64</tt:MaxStringLength></tt:Recording>",
                "<tt:Search><tt:XAddr>{base}{search}</tt:XAddr><tt:MetadataSearch>false</tt:MetadataSearch></tt:Search>",
                "<tt:Replay><tt:XAddr>{base}{replay}</tt:XAddr></tt:Replay>",
                "</tt:Extension>"
            ),
            base = base,
            rec = RECORDING_PATH,
            search = SEARCH_PATH,
            replay = REPLAY_PATH
        )
    }

    /// GetServiceCapabilities of the Profile G service at `path`; `None` for other paths.
    pub(crate) fn service_capabilities(&self, path: &str) -> Option<String> {
        let (prefix, ns, caps) = match path {
            SEARCH_PATH => (
                "tse",
                SEARCH_NS,
                r#"<tse:Capabilities MetadataSearch="false" GeneralStartEvents="true"/>"#,
            ),
            REPLAY_PATH => (
                "trp",
                REPLAY_NS,
                r#"<trp:Capabilities ReversePlayback="false" SessionTimeoutRange="10 60" RTP_RTSP_TCP="true"/>"#,
            ),
            RECORDING_PATH => (
                "trc",
                RECORDING_NS,
                r#"<trc:Capabilities DynamicRecordings="false" DynamicTracks="false" Encoding="H264" MaxRecordings="1" MaxRecordingJobs="0" Options="false" MetadataRecording="false"/>"#,
            ),
            _ => return None,
        };
        Some(wrap(prefix, ns, "GetServiceCapabilitiesResponse", caps))
    }

    /// Answers `op` when it is a Profile G operation; `None` otherwise.
    pub(crate) fn op(
        &self,
        op: &str,
        el: &Element,
        local_ip: IpAddr,
        rtsp_port: u16,
    ) -> Option<Result<String, Fault>> {
        Some(match op {
            "GetRecordingSummary" => Ok(self.summary()),
            "GetRecordingInformation" => self.check_token(el).map(|()| {
                search(
                    "GetRecordingInformationResponse",
                    &self.information("tse:RecordingInformation"),
                )
            }),
            "GetMediaAttributes" => Ok(self.media_attributes(el)),
            "FindRecordings" => self.find(el, false),
            "GetRecordingSearchResults" => self.results(el, false),
            "FindEvents" => self.find(el, true),
            "GetEventSearchResults" => self.results(el, true),
            "EndSearch" => self.end_search(el),
            "GetReplayUri" => self.replay_uri(el, local_ip, rtsp_port),
            "GetReplayConfiguration" => Ok(wrap(
                "trp",
                REPLAY_NS,
                "GetReplayConfigurationResponse",
                "<trp:Configuration><tt:SessionTimeout>PT60S</tt:SessionTimeout></trp:Configuration>",
            )),
            "GetRecordings" => Ok(self.recordings()),
            "GetRecordingJobs" => Ok(wrap("trc", RECORDING_NS, "GetRecordingJobsResponse", "")),
            _ => return None,
        })
    }

    fn check_token(&self, el: &Element) -> Result<(), Fault> {
        match el.text_at(&["RecordingToken"]) {
            Some(RECORDING_TOKEN) => Ok(()),
            Some(t) => Err(invalid_token(t)),
            None => Err(Fault::bad_request("RecordingToken missing")),
        }
    }

    fn summary(&self) -> String {
        let now = now_nanos();
        let until = self.latest(now);
        search(
            "GetRecordingSummaryResponse",
            &format!(
                "<tse:Summary><tt:DataFrom>{}</tt:DataFrom><tt:DataUntil>{}</tt:DataUntil><tt:NumberRecordings>1</tt:NumberRecordings></tse:Summary>",
                show(self.plan.start_ns),
                show(until)
            ),
        )
    }

    /// The time of the last frame recorded by `now`.
    fn latest(&self, now: i64) -> i64 {
        self.plan
            .time_of(self.plan.frames_until(now).saturating_sub(1))
    }

    /// `tt:RecordingInformation` content wrapped in `tag`.
    fn information(&self, tag: &str) -> String {
        let from = show(self.plan.start_ns);
        let to = show(self.latest(now_nanos()));
        format!(
            concat!(
                "<{tag}><tt:RecordingToken>{token}</tt:RecordingToken>",
                "<tt:Source><tt:SourceId>vs0</tt:SourceId><tt:Name>camwire sim</tt:Name><tt:Location>loopback</tt:Location>",
                "<tt:Description>the clip, repeated</tt:Description><tt:Address>{token}</tt:Address></tt:Source>",
                "<tt:EarliestRecording>{from}</tt:EarliestRecording><tt:LatestRecording>{to}</tt:LatestRecording>",
                "<tt:Content>continuous</tt:Content>",
                "<tt:Track><tt:TrackToken>{track}</tt:TrackToken><tt:TrackType>Video</tt:TrackType><tt:Description>H.264 main</tt:Description>",
                "<tt:DataFrom>{from}</tt:DataFrom><tt:DataTo>{to}</tt:DataTo></tt:Track>",
                "<tt:RecordingStatus>Recording</tt:RecordingStatus></{tag}>"
            ),
            tag = tag,
            token = RECORDING_TOKEN,
            track = TRACK_TOKEN,
            from = from,
            to = to
        )
    }

    fn media_attributes(&self, el: &Element) -> String {
        let facts = super::facts();
        let names_other = el
            .children_named("RecordingTokens")
            .any(|t| t.trimmed() != RECORDING_TOKEN);
        let inner = if names_other
            && !el
                .children_named("RecordingTokens")
                .any(|t| t.trimmed() == RECORDING_TOKEN)
        {
            String::new()
        } else {
            format!(
                concat!(
                    "<tse:MediaAttributes><tt:RecordingToken>{token}</tt:RecordingToken>",
                    "<tt:TrackAttributes><tt:TrackInformation><tt:TrackToken>{track}</tt:TrackToken><tt:TrackType>Video</tt:TrackType><tt:Description>H.264 main</tt:Description>",
                    "<tt:DataFrom>{from}</tt:DataFrom><tt:DataTo>{to}</tt:DataTo></tt:TrackInformation>",
                    "<tt:VideoAttributes><tt:Bitrate>{kbps}</tt:Bitrate><tt:Width>{w}</tt:Width><tt:Height>{h}</tt:Height><tt:Encoding>H264</tt:Encoding><tt:Framerate>{fps}</tt:Framerate></tt:VideoAttributes></tt:TrackAttributes>",
                    "<tt:From>{from}</tt:From><tt:Until>{to}</tt:Until></tse:MediaAttributes>"
                ),
                token = RECORDING_TOKEN,
                track = TRACK_TOKEN,
                from = show(self.plan.start_ns),
                to = show(self.latest(now_nanos())),
                kbps = facts.bitrate_kbps,
                w = facts.width,
                h = facts.height,
                fps = facts.fps
            )
        };
        search("GetMediaAttributesResponse", &inner)
    }

    fn recordings(&self) -> String {
        wrap(
            "trc",
            RECORDING_NS,
            "GetRecordingsResponse",
            &format!(
                concat!(
                    "<trc:RecordingItem><tt:RecordingToken>{token}</tt:RecordingToken><tt:Configuration>",
                    "<tt:Source><tt:SourceId>vs0</tt:SourceId><tt:Name>camwire sim</tt:Name><tt:Location>loopback</tt:Location><tt:Description>the clip, repeated</tt:Description><tt:Address>{token}</tt:Address></tt:Source>",
                    "<tt:Content>continuous</tt:Content><tt:MaximumRetentionTime>PT0S</tt:MaximumRetentionTime></tt:Configuration>",
                    "<tt:Tracks><tt:Track><tt:TrackToken>{track}</tt:TrackToken><tt:Configuration><tt:TrackType>Video</tt:TrackType><tt:Description>H.264 main</tt:Description></tt:Configuration></tt:Track></tt:Tracks>",
                    "</trc:RecordingItem>"
                ),
                token = RECORDING_TOKEN,
                track = TRACK_TOKEN
            ),
        )
    }

    /// FindRecordings or FindEvents: a new session holding every result.
    fn find(&self, el: &Element, events: bool) -> Result<String, Fault> {
        let keepalive = el
            .text_at(&["KeepAliveTime"])
            .and_then(parse_xsd_duration)
            .unwrap_or(DEFAULT_KEEPALIVE)
            .clamp(Duration::from_secs(1), MAX_KEEPALIVE);
        let scope = el.child("Scope");
        let included: Vec<&str> = scope
            .map(|s| {
                s.children_named("IncludedRecordings")
                    .map(Element::trimmed)
                    .collect()
            })
            .unwrap_or_default();
        let ours = included.is_empty() || included.contains(&RECORDING_TOKEN);
        let max_matches = el
            .text_at(&["MaxMatches"])
            .and_then(|m| m.parse::<usize>().ok())
            .unwrap_or(usize::MAX);
        let mut pending = if !ours {
            Vec::new()
        } else if events {
            self.events(el)?
        } else {
            vec![self.information("tt:RecordingInformation")]
        };
        pending.truncate(max_matches);
        // Results go out from the back.
        pending.reverse();
        let mut s = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        s.prune();
        if s.live.len() >= MAX_SESSIONS {
            return Err(Fault {
                status: 500,
                code: "env:Receiver",
                subcodes: vec!["ter:Action", "ter:ResourceProblem"],
                reason: format!("{MAX_SESSIONS} search sessions are open"),
            });
        }
        s.next += 1;
        let token = format!("SearchToken_{}", s.next);
        s.live.insert(
            token.clone(),
            Session {
                events,
                pending,
                keepalive,
                touched: Instant::now(),
            },
        );
        let op = if events {
            "FindEventsResponse"
        } else {
            "FindRecordingsResponse"
        };
        Ok(search(
            op,
            &format!("<tse:SearchToken>{token}</tse:SearchToken>"),
        ))
    }

    /// One results page of a session.
    fn results(&self, el: &Element, events: bool) -> Result<String, Fault> {
        let token = el
            .text_at(&["SearchToken"])
            .ok_or_else(|| Fault::bad_request("SearchToken missing"))?;
        let max = el
            .text_at(&["MaxResults"])
            .and_then(|m| m.parse::<usize>().ok())
            .unwrap_or(MAX_PAGE)
            .clamp(1, MAX_PAGE);
        let mut s = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        s.prune();
        let session = match s.live.get_mut(token) {
            Some(x) if x.events == events => x,
            _ => return Err(invalid_token(token)),
        };
        session.touched = Instant::now();
        let mut page = String::new();
        for _ in 0..max {
            match session.pending.pop() {
                Some(r) => page.push_str(&r),
                None => break,
            }
        }
        let done = session.pending.is_empty();
        if done {
            s.live.remove(token);
        }
        let state = if done { "Completed" } else { "Searching" };
        let op = if events {
            "GetEventSearchResultsResponse"
        } else {
            "GetRecordingSearchResultsResponse"
        };
        Ok(search(
            op,
            &format!(
                "<tse:ResultList><tt:SearchState>{state}</tt:SearchState>{page}</tse:ResultList>"
            ),
        ))
    }

    fn end_search(&self, el: &Element) -> Result<String, Fault> {
        let token = el
            .text_at(&["SearchToken"])
            .ok_or_else(|| Fault::bad_request("SearchToken missing"))?;
        let mut s = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        s.prune();
        if s.live.remove(token).is_none() {
            return Err(invalid_token(token));
        }
        Ok(search(
            "EndSearchResponse",
            &format!("<tse:Endpoint>{}</tse:Endpoint>", show(now_nanos())),
        ))
    }

    /// The `RecordingHistory/Track/State` results of a FindEvents, in search order.
    fn events(&self, el: &Element) -> Result<Vec<String>, Fault> {
        let time = |name: &str| -> Result<Option<i64>, Fault> {
            match el.text_at(&[name]) {
                None => Ok(None),
                Some(t) => t
                    .parse::<jiff::Timestamp>()
                    .ok()
                    .and_then(|t| i64::try_from(t.as_nanosecond()).ok())
                    .map(Some)
                    .ok_or_else(|| {
                        Fault::invalid_arg(
                            "ter:InvalidArgVal",
                            format!("{name} {t:?} is not a time"),
                        )
                    }),
            }
        };
        let start = time("StartPoint")?.ok_or_else(|| Fault::bad_request("StartPoint missing"))?;
        let now = now_nanos();
        let end = time("EndPoint")?.unwrap_or(now);
        let backward = end < start;
        let (lo, hi) = if backward { (end, start) } else { (start, end) };
        // Only this topic is recorded; a filter naming nothing of it finds nothing.
        let filter = el
            .child("SearchFilter")
            .map(|f| {
                let mut all = String::new();
                collect_text(f, &mut all);
                all
            })
            .unwrap_or_default();
        if !filter.trim().is_empty() && !filter.contains("RecordingHistory") {
            return Ok(Vec::new());
        }
        let include_start = el
            .text_at(&["IncludeStartState"])
            .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
        // State changes: present from the start, absent over the gap, present after it.
        let mut changes: Vec<(i64, bool)> = Vec::new();
        let sections = self.plan.sections(now);
        for (a, b) in &sections {
            changes.push((*a, true));
            if *b < self.plan.time_of(self.plan.frames_until(now)) {
                changes.push((*b, false));
            }
        }
        let mut out = Vec::new();
        if include_start {
            let present = self
                .plan
                .frame_at(start)
                .is_some_and(|n| n < self.plan.frames_until(now) && !self.plan.in_gap(n));
            out.push(self.event(start, present, true));
        }
        let mut picked: Vec<(i64, bool)> = changes
            .into_iter()
            .filter(|(t, _)| {
                if include_start {
                    *t > lo && *t <= hi && *t != start
                } else {
                    *t >= lo && *t <= hi
                }
            })
            .collect();
        if backward {
            picked.reverse();
        }
        out.extend(picked.iter().map(|(t, p)| self.event(*t, *p, false)));
        out.truncate(MAX_EVENTS);
        Ok(out)
    }

    fn event(&self, t: i64, present: bool, start_state: bool) -> String {
        let t = show(t);
        format!(
            concat!(
                "<tt:Result><tt:RecordingToken>{rec}</tt:RecordingToken><tt:TrackToken>{track}</tt:TrackToken>",
                "<tt:Time>{t}</tt:Time><tt:Event>",
                "<wsnt:Topic Dialect=\"http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet\">tns1:RecordingHistory/Track/State</wsnt:Topic>",
                "<wsnt:Message><tt:Message UtcTime=\"{t}\"><tt:Source>",
                "<tt:SimpleItem Name=\"RecordingToken\" Value=\"{rec}\"/><tt:SimpleItem Name=\"Track\" Value=\"{track}\"/>",
                "</tt:Source><tt:Data><tt:SimpleItem Name=\"IsDataPresent\" Value=\"{present}\"/></tt:Data></tt:Message></wsnt:Message>",
                "</tt:Event><tt:StartStateEvent>{start_state}</tt:StartStateEvent></tt:Result>"
            ),
            rec = RECORDING_TOKEN,
            track = TRACK_TOKEN,
            t = t,
            present = present,
            start_state = start_state
        )
    }

    fn replay_uri(&self, el: &Element, local_ip: IpAddr, rtsp_port: u16) -> Result<String, Fault> {
        if el.text_at(&["StreamSetup", "Stream"]) == Some("RTP-Multicast") {
            return Err(Fault::invalid_arg(
                "ter:InvalidStreamSetup",
                "Multicast replay is not offered",
            ));
        }
        match el.text_at(&["RecordingToken"]) {
            Some(RECORDING_TOKEN) => {}
            Some(t) => {
                return Err(Fault::invalid_arg(
                    "ter:NoRecording",
                    format!("no recording {t:?}"),
                ));
            }
            None => return Err(Fault::bad_request("RecordingToken missing")),
        }
        let uri = replay_url(SocketAddr::new(local_ip, rtsp_port));
        Ok(wrap(
            "trp",
            REPLAY_NS,
            "GetReplayUriResponse",
            &format!("<trp:Uri>{}</trp:Uri>", escape(&uri)),
        ))
    }
}

/// `rtsp://ADDR/replay/<token>`.
pub(crate) fn replay_url(addr: SocketAddr) -> String {
    format!("rtsp://{addr}{REPLAY_PATH_PREFIX}{RECORDING_TOKEN}")
}

fn collect_text(el: &Element, out: &mut String) {
    out.push_str(&el.text);
    out.push(' ');
    for (_, v) in &el.attrs {
        out.push_str(v);
        out.push(' ');
    }
    for c in &el.children {
        collect_text(c, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onvif::xml::{XmlLimits, parse};
    use crate::sim::recording::SimRecordingOptions;

    fn el(xml: &str) -> Element {
        parse(xml.as_bytes(), &XmlLimits::default()).expect("xml")
    }

    fn pg() -> ProfileG {
        ProfileG::new(Plan::new(&SimRecordingOptions::default(), now_nanos()))
    }

    fn token(answer: &str) -> String {
        el(answer)
            .find("SearchToken")
            .map(|t| t.trimmed().to_string())
            .expect("token")
    }

    fn call(pg: &ProfileG, op: &str, inner: &str) -> Result<String, Fault> {
        let req = el(&format!("<{op}>{inner}</{op}>"));
        pg.op(op, &req, IpAddr::from([127, 0, 0, 1]), 554)
            .expect("a Profile G op")
    }

    #[test]
    fn event_pages_hold_max_results_then_complete_and_end_the_session() {
        let pg = pg();
        let gap = pg.plan.public().gap.expect("gap");
        let (a, b) = (
            show(crate::sim::recording::to_nanos(gap.0) - 10_000_000_000),
            show(crate::sim::recording::to_nanos(gap.1) + 10_000_000_000),
        );
        let find = call(
            &pg,
            "FindEvents",
            &format!("<StartPoint>{a}</StartPoint><EndPoint>{b}</EndPoint><IncludeStartState>true</IncludeStartState><KeepAliveTime>PT5S</KeepAliveTime>"),
        )
        .expect("find");
        let t = token(&find);
        let mut states = Vec::new();
        let mut values = Vec::new();
        loop {
            let page = el(&call(
                &pg,
                "GetEventSearchResults",
                &format!("<SearchToken>{t}</SearchToken><MaxResults>1</MaxResults>"),
            )
            .expect("page"));
            let state = page.find("SearchState").unwrap().trimmed().to_string();
            let mut items = Vec::new();
            page.find_all("SimpleItem", &mut items);
            values.extend(
                items
                    .iter()
                    .filter(|i| i.attr("Name") == Some("IsDataPresent"))
                    .map(|i| i.attr("Value").unwrap().to_string()),
            );
            states.push(state.clone());
            if state == "Completed" {
                break;
            }
        }
        assert_eq!(states, ["Searching", "Searching", "Completed"]);
        assert_eq!(values, ["true", "false", "true"]);
        // The session ended with its last page: its token is gone.
        let e =
            call(&pg, "EndSearch", &format!("<SearchToken>{t}</SearchToken>")).expect_err("ended");
        assert_eq!(e.subcodes, ["ter:InvalidArgVal", "ter:InvalidToken"]);

        // Backward (EndPoint before StartPoint): newest first.
        let t = token(
            &call(
                &pg,
                "FindEvents",
                &format!("<StartPoint>{b}</StartPoint><EndPoint>{a}</EndPoint><IncludeStartState>false</IncludeStartState>"),
            )
            .expect("find"),
        );
        let page = call(
            &pg,
            "GetEventSearchResults",
            &format!("<SearchToken>{t}</SearchToken>"),
        )
        .expect("page");
        let p = page.find("IsDataPresent=").unwrap_or(0);
        assert!(page.contains("Completed"));
        let first_true = page.find("Value=\"true\"").unwrap();
        let first_false = page.find("Value=\"false\"").unwrap();
        assert!(
            first_true < first_false,
            "the gap's end comes first: {page}"
        );
        let _ = p;
        // EndSearch of a live session answers; unknown tokens fault.
        let t = token(&call(&pg, "FindRecordings", "<KeepAliveTime>PT5S</KeepAliveTime>").unwrap());
        assert!(call(&pg, "EndSearch", &format!("<SearchToken>{t}</SearchToken>")).is_ok());
        assert!(
            call(
                &pg,
                "GetRecordingSearchResults",
                "<SearchToken>x</SearchToken>"
            )
            .is_err()
        );
        assert!(
            call(
                &pg,
                "GetRecordingInformation",
                "<RecordingToken>x</RecordingToken>"
            )
            .is_err()
        );
        assert!(
            call(&pg, "GetReplayUri", "<StreamSetup><Stream>RTP-Unicast</Stream></StreamSetup><RecordingToken>x</RecordingToken>")
                .is_err_and(|f| f.subcodes == ["ter:InvalidArgVal", "ter:NoRecording"])
        );
        let uri = call(
            &pg,
            "GetReplayUri",
            &format!("<RecordingToken>{RECORDING_TOKEN}</RecordingToken>"),
        )
        .unwrap();
        assert!(
            uri.contains("rtsp://127.0.0.1:554/replay/SimRecording_1"),
            "{uri}"
        );
    }

    #[test]
    fn service_capabilities_by_path() {
        let pg = pg();
        let replay = pg.service_capabilities(REPLAY_PATH).expect("replay");
        let el = el(&replay);
        assert_eq!(el.name, "GetServiceCapabilitiesResponse");
        let caps = el.child("Capabilities").expect("caps");
        assert_eq!(caps.attr("ReversePlayback"), Some("false"));
        assert_eq!(caps.attr("RTP_RTSP_TCP"), Some("true"));
        assert!(pg.service_capabilities(SEARCH_PATH).is_some());
        assert!(pg.service_capabilities(RECORDING_PATH).is_some());
        assert!(pg.service_capabilities("/onvif/device_service").is_none());
    }

    #[test]
    fn sessions_are_bounded() {
        let pg = pg();
        for _ in 0..MAX_SESSIONS {
            call(&pg, "FindRecordings", "").expect("find");
        }
        let e = call(&pg, "FindRecordings", "").expect_err("too many");
        assert_eq!(e.subcodes, ["ter:Action", "ter:ResourceProblem"]);
    }
}

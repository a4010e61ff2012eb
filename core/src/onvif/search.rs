//! The Recording Search service (Profile G, `http://www.onvif.org/ver10/search/wsdl`): which
//! recordings a device holds, with their tracks and time spans.
//!
//! [`OnvifDevice::recordings`] runs one search session: FindRecordings (empty scope: field
//! clients ask for everything and filter themselves, since some NVRs ignore filters), then
//! GetRecordingSearchResults until `SearchState` is `Completed` (a `Searching` page may
//! hold no results at all), then EndSearch, which is always sent (its fault is ignored: a
//! completed session may already be gone). The paging is bounded in pages and time.
//!
//! Field rules: times are read as RFC 3339 (devices must answer UTC with `Z`; a time
//! without an offset is taken as UTC and flagged); a recording whose earliest time is before
//! 2000 (`1970-01-01T00:03:15Z` is real device output: recorded before NTP sync) is flagged
//! [`RecordingInformation::suspect_time`], never dropped.

use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::device::OnvifDevice;
use super::error::{Error, Result};
use super::xml::{Element, escape};

/// The Recording Search namespace (also the prefix of its SOAP actions).
pub use super::replay::SEARCH_NS;

/// Most GetRecordingSearchResults pages of one session.
const MAX_PAGES: usize = 200;
/// Longest one search session may page.
const MAX_SEARCH_TIME: Duration = Duration::from_secs(120);
/// Unix seconds of 2000-01-01: earlier recording times are flagged.
const SANE_SINCE: i64 = 946_684_800;

/// `SearchState` of a results page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchState {
    /// More results may come.
    Searching,
    /// The last page: the session has ended.
    Completed,
    /// `Queued` (deprecated), `Unknown` or anything else: keep asking.
    Other,
}

/// One track of a recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Track {
    /// Track token.
    pub token: String,
    /// `Video`, `Audio`, `Metadata` or `Extended`.
    pub kind: String,
    /// Description.
    pub description: String,
    /// First data of the track.
    pub data_from: Option<Timestamp>,
    /// Last data of the track.
    pub data_to: Option<Timestamp>,
}

/// `RecordingInformation` (GetRecordingInformation, GetRecordingSearchResults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingInformation {
    /// Recording token (what GetReplayUri takes).
    pub token: String,
    /// `Source/SourceId`.
    pub source_id: String,
    /// `Source/Name`.
    pub source_name: String,
    /// `Source/Location`.
    pub location: String,
    /// `Source/Description`.
    pub description: String,
    /// `EarliestRecording`.
    pub earliest: Option<Timestamp>,
    /// `LatestRecording`.
    pub latest: Option<Timestamp>,
    /// `Content`.
    pub content: String,
    /// Tracks.
    pub tracks: Vec<Track>,
    /// `RecordingStatus` (Initiated, Recording, Stopped, Removing, Removed, Unknown).
    pub status: String,
    /// Some time of the recording was before 2000 or had no UTC offset: the device clock
    /// was probably not set when it recorded (or its "UTC" is local time).
    pub suspect_time: bool,
}

impl RecordingInformation {
    /// Whether the recording may hold footage of `[start, end)`: its earliest time is
    /// before `end` and its latest after `start`; an unknown end counts as overlapping (the
    /// device did not say).
    pub fn overlaps(&self, start: Timestamp, end: Timestamp) -> bool {
        self.earliest.is_none_or(|e| e < end) && self.latest.is_none_or(|l| l > start)
    }
}

/// Which of a device's recordings ([`OnvifDevice::recordings`]) may hold a window: how a
/// fetch without a recording token picks one (CLI, Python, C, the recorder's back-fill).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Covering {
    /// Exactly one recording overlaps the window: its token.
    One(String),
    /// None does; the device lists this many recordings.
    NoneOf(usize),
    /// Several do: their tokens, in the device's order.
    Several(Vec<String>),
}

/// What `recs` say about `[start, end)` ([`RecordingInformation::overlaps`]).
pub fn covering(recs: &[RecordingInformation], start: Timestamp, end: Timestamp) -> Covering {
    let mut tokens: Vec<String> = recs
        .iter()
        .filter(|r| r.overlaps(start, end))
        .map(|r| r.token.clone())
        .collect();
    match tokens.len() {
        0 => Covering::NoneOf(recs.len()),
        1 => Covering::One(tokens.remove(0)),
        _ => Covering::Several(tokens),
    }
}

/// A time as the device wrote it: RFC 3339; without an offset, read as UTC and flagged.
fn parse_time(s: &str, suspect: &mut bool) -> Option<Timestamp> {
    let s = s.trim();
    let t = match s.parse::<Timestamp>() {
        Ok(t) => t,
        Err(_) => {
            let dt = s.parse::<jiff::civil::DateTime>().ok()?;
            *suspect = true;
            dt.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp()
        }
    };
    if t.as_second() < SANE_SINCE {
        *suspect = true;
    }
    Some(t)
}

/// Parses one `RecordingInformation` element; `None` without a token.
pub fn parse_recording_information(el: &Element) -> Option<RecordingInformation> {
    let token = el.text_at(&["RecordingToken"])?.to_string();
    let text = |path: &[&str]| el.text_at(path).unwrap_or_default().to_string();
    let mut suspect = false;
    let mut time = |path: &[&str]| el.text_at(path).and_then(|t| parse_time(t, &mut suspect));
    let earliest = time(&["EarliestRecording"]);
    let latest = time(&["LatestRecording"]);
    let tracks = el
        .children_named("Track")
        .filter_map(|t| parse_track(t, &mut suspect))
        .collect();
    Some(RecordingInformation {
        token,
        source_id: text(&["Source", "SourceId"]),
        source_name: text(&["Source", "Name"]),
        location: text(&["Source", "Location"]),
        description: text(&["Source", "Description"]),
        earliest,
        latest,
        content: text(&["Content"]),
        tracks,
        status: text(&["RecordingStatus"]),
        suspect_time: suspect,
    })
}

/// A `Track` (`TrackInformation`) element; `None` without a token.
fn parse_track(t: &Element, suspect: &mut bool) -> Option<Track> {
    Some(Track {
        token: t.text_at(&["TrackToken"])?.to_string(),
        kind: t.text_at(&["TrackType"]).unwrap_or_default().to_string(),
        description: t.text_at(&["Description"]).unwrap_or_default().to_string(),
        data_from: t
            .text_at(&["DataFrom"])
            .and_then(|x| parse_time(x, suspect)),
        data_to: t.text_at(&["DataTo"]).and_then(|x| parse_time(x, suspect)),
    })
}

/// What a recording's tracks hold at one instant (GetMediaAttributes): codec, size, rate.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaAttributes {
    /// Recording token.
    pub recording: String,
    /// Its tracks' attributes.
    pub tracks: Vec<TrackAttributes>,
    /// Start of the span these attributes hold for.
    pub from: Option<Timestamp>,
    /// End of that span.
    pub until: Option<Timestamp>,
}

/// One track's attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackAttributes {
    /// The track (`TrackInformation`).
    pub track: Track,
    /// `VideoAttributes`, for a video track.
    pub video: Option<VideoAttributes>,
    /// `AudioAttributes`, for an audio track.
    pub audio: Option<AudioAttributes>,
}

/// `VideoAttributes`.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoAttributes {
    /// `Encoding`: `JPEG`, `MPEG4`, `H264` (and `H265` on newer devices).
    pub encoding: String,
    /// Pixels.
    pub width: Option<u32>,
    /// Pixels.
    pub height: Option<u32>,
    /// Frames per second.
    pub framerate: Option<f64>,
    /// kbit/s.
    pub bitrate_kbps: Option<u32>,
}

/// `AudioAttributes`.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioAttributes {
    /// `Encoding`: `G711`, `G726`, `AAC`.
    pub encoding: String,
    /// kbit/s.
    pub bitrate_kbps: Option<u32>,
    /// `Samplerate`, kHz.
    pub sample_rate_khz: Option<u32>,
}

/// A GetMediaAttributes answer: one entry per `MediaAttributes` with a recording token.
/// Numbers that do not parse are left out, never guessed.
pub fn parse_media_attributes(resp: &Element) -> Vec<MediaAttributes> {
    fn num<T: std::str::FromStr>(el: &Element, name: &str) -> Option<T> {
        el.text_at(&[name]).and_then(|v| v.trim().parse().ok())
    }
    resp.children_named("MediaAttributes")
        .filter_map(|m| {
            let mut suspect = false;
            let tracks = m
                .children_named("TrackAttributes")
                .filter_map(|ta| {
                    let track = parse_track(ta.child("TrackInformation")?, &mut suspect)?;
                    let video = ta.child("VideoAttributes").map(|v| VideoAttributes {
                        encoding: v
                            .text_at(&["Encoding"])
                            .unwrap_or_default()
                            .trim()
                            .to_string(),
                        width: num(v, "Width"),
                        height: num(v, "Height"),
                        framerate: num::<f64>(v, "Framerate")
                            .filter(|f| f.is_finite() && *f >= 0.0),
                        bitrate_kbps: num(v, "Bitrate"),
                    });
                    let audio = ta.child("AudioAttributes").map(|a| AudioAttributes {
                        encoding: a
                            .text_at(&["Encoding"])
                            .unwrap_or_default()
                            .trim()
                            .to_string(),
                        bitrate_kbps: num(a, "Bitrate"),
                        sample_rate_khz: num(a, "Samplerate"),
                    });
                    Some(TrackAttributes {
                        track,
                        video,
                        audio,
                    })
                })
                .collect();
            Some(MediaAttributes {
                recording: m.text_at(&["RecordingToken"])?.trim().to_string(),
                tracks,
                from: m
                    .text_at(&["From"])
                    .and_then(|t| parse_time(t, &mut suspect)),
                until: m
                    .text_at(&["Until"])
                    .and_then(|t| parse_time(t, &mut suspect)),
            })
        })
        .collect()
}

/// The `SearchToken` of a FindRecordings (or FindEvents) answer.
pub fn parse_search_token(resp: &Element) -> Option<&str> {
    resp.find("SearchToken")
        .map(Element::trimmed)
        .filter(|t| !t.is_empty())
}

/// A GetRecordingSearchResults answer: its state and the recordings on this page.
pub fn parse_recording_search_results(resp: &Element) -> (SearchState, Vec<RecordingInformation>) {
    let list = resp.find("ResultList");
    let state = match list.and_then(|l| l.text_at(&["SearchState"])) {
        Some("Completed") => SearchState::Completed,
        Some("Searching") => SearchState::Searching,
        _ => SearchState::Other,
    };
    let recordings = list
        .map(|l| {
            l.children_named("RecordingInformation")
                .filter_map(parse_recording_information)
                .collect()
        })
        .unwrap_or_default();
    (state, recordings)
}

fn search_body(op: &str, inner: &str) -> String {
    format!(
        "<tse:{op} xmlns:tse=\"{SEARCH_NS}\" xmlns:tt=\"http://www.onvif.org/ver10/schema\">\
         {inner}</tse:{op}>"
    )
}

impl OnvifDevice {
    /// The Recording Search service's address from GetServices.
    pub fn search_service(&self) -> Option<&url::Url> {
        self.service_by_namespace(SEARCH_NS)
    }

    async fn search_call(&self, op: &str, inner: &str) -> Result<Element> {
        let endpoint = self.profile_g_service(SEARCH_NS).await?;
        self.transport
            .call(
                &endpoint,
                &format!("{SEARCH_NS}/{op}"),
                &search_body(op, inner),
                "",
            )
            .await
    }

    /// One search session: `find_op` with `find_inner`, then `results_op` pages (parsed by
    /// `parse`) until Completed, bounded; EndSearch always.
    async fn search_session<T>(
        &self,
        find_op: &str,
        find_inner: &str,
        results_op: &str,
        parse: fn(&Element) -> (SearchState, Vec<T>),
    ) -> Result<Vec<T>> {
        let target = self.xaddr().to_string();
        let r = self.search_call(find_op, find_inner).await?;
        let token = parse_search_token(&r)
            .ok_or_else(|| {
                Error::protocol(&target, format!("{find_op} answer without SearchToken"))
            })?
            .to_string();
        let t = escape(&token);
        let started = Instant::now();
        let mut all: Vec<T> = Vec::new();
        let mut outcome = Ok(());
        for page in 0.. {
            if page >= MAX_PAGES || started.elapsed() > MAX_SEARCH_TIME {
                outcome = Err(Error::protocol(
                    &target,
                    format!(
                        "{find_op} search not Completed after {page} pages in {:?}",
                        started.elapsed()
                    ),
                ));
                break;
            }
            let inner = format!(
                "<tse:SearchToken>{t}</tse:SearchToken><tse:MinResults>1</tse:MinResults>\
                 <tse:MaxResults>100</tse:MaxResults><tse:WaitTime>PT5S</tse:WaitTime>"
            );
            match self.search_call(results_op, &inner).await {
                Ok(r) => {
                    let (state, found) = parse(&r);
                    all.extend(found);
                    if state == SearchState::Completed {
                        break;
                    }
                }
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
        }
        // Always end the session; a completed one may already be gone (fault ignored).
        if let Err(e) = self
            .search_call(
                "EndSearch",
                &format!("<tse:SearchToken>{t}</tse:SearchToken>"),
            )
            .await
        {
            log::debug!("EndSearch: {e}");
        }
        outcome.map(|()| all)
    }

    /// Every recording the device lists (one FindRecordings session, paged to the end).
    pub async fn recordings(&self) -> Result<Vec<RecordingInformation>> {
        let found = self
            .search_session(
                "FindRecordings",
                "<tse:Scope/><tse:KeepAliveTime>PT60S</tse:KeepAliveTime>",
                "GetRecordingSearchResults",
                parse_recording_search_results,
            )
            .await?;
        // Results are never repeated by the spec; some devices do anyway.
        let mut all: Vec<RecordingInformation> = Vec::new();
        for rec in found {
            if !all.iter().any(|a| a.token == rec.token) {
                all.push(rec);
            }
        }
        Ok(all)
    }

    /// GetMediaAttributes: what the tracks of `recordings` hold at `time` (codec, size,
    /// frame rate, bit rate), so a client knows before fetching whether it can store them.
    pub async fn media_attributes(
        &self,
        recordings: &[&str],
        time: Timestamp,
    ) -> Result<Vec<MediaAttributes>> {
        let tokens: String = recordings
            .iter()
            .map(|t| format!("<tse:RecordingTokens>{}</tse:RecordingTokens>", escape(t)))
            .collect();
        let r = self
            .search_call(
                "GetMediaAttributes",
                &format!("{tokens}<tse:Time>{time}</tse:Time>"),
            )
            .await?;
        Ok(parse_media_attributes(&r))
    }

    /// The `RecordingHistory/Track/State` events (IsDataPresent) of `recording` between
    /// `start` and `end` (FindEvents with IncludeStartState, paged to the end), in time
    /// order; [`present_ranges`] turns them into ranges and gaps.
    pub async fn data_presence(
        &self,
        recording: &str,
        start: Timestamp,
        end: Timestamp,
    ) -> Result<Vec<DataPresence>> {
        let inner = format!(
            "<tse:StartPoint>{start}</tse:StartPoint><tse:EndPoint>{end}</tse:EndPoint>\
             <tse:Scope><tt:IncludedRecordings>{}</tt:IncludedRecordings></tse:Scope>\
             <tse:SearchFilter><wsnt:TopicExpression \
             xmlns:wsnt=\"http://docs.oasis-open.org/wsn/b-2\" \
             xmlns:tns1=\"http://www.onvif.org/ver10/topics\" \
             Dialect=\"http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet\">\
             tns1:RecordingHistory/Track/State</wsnt:TopicExpression></tse:SearchFilter>\
             <tse:IncludeStartState>true</tse:IncludeStartState>\
             <tse:KeepAliveTime>PT60S</tse:KeepAliveTime>",
            escape(recording)
        );
        let mut events = self
            .search_session(
                "FindEvents",
                &inner,
                "GetEventSearchResults",
                parse_event_search_results,
            )
            .await?;
        events.retain(|e| e.recording == recording);
        events.sort_by_key(|e| e.time);
        Ok(events)
    }
}

/// A time span: (from, to).
pub type Span = (Timestamp, Timestamp);

/// One `RecordingHistory/Track/State` event: data present (or not) on a track from `time`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataPresence {
    /// Recording token.
    pub recording: String,
    /// Track token.
    pub track: String,
    /// When the state took effect.
    pub time: Timestamp,
    /// `IsDataPresent`.
    pub present: bool,
    /// `StartStateEvent`: the state at the search's start point, not a change.
    pub start_state: bool,
}

/// A GetEventSearchResults answer: its state and the data-presence events in it (other
/// events are skipped).
pub fn parse_event_search_results(resp: &Element) -> (SearchState, Vec<DataPresence>) {
    let list = resp.find("ResultList");
    let state = match list.and_then(|l| l.text_at(&["SearchState"])) {
        Some("Completed") => SearchState::Completed,
        Some("Searching") => SearchState::Searching,
        _ => SearchState::Other,
    };
    let mut out = Vec::new();
    for r in list.iter().flat_map(|l| l.children_named("Result")) {
        let topic_ok = r
            .find("Topic")
            .is_none_or(|t| t.trimmed().ends_with("RecordingHistory/Track/State"));
        let mut items = Vec::new();
        if let Some(data) = r.find("Data") {
            data.find_all("SimpleItem", &mut items);
        }
        let present = items
            .iter()
            .find(|i| i.attr("Name") == Some("IsDataPresent"))
            .and_then(|i| i.attr("Value"))
            .map(|v| v.trim().eq_ignore_ascii_case("true"));
        let mut suspect = false;
        let (Some(present), true, Some(recording), Some(time)) = (
            present,
            topic_ok,
            r.text_at(&["RecordingToken"]),
            r.text_at(&["Time"])
                .and_then(|t| parse_time(t, &mut suspect)),
        ) else {
            continue;
        };
        out.push(DataPresence {
            recording: recording.to_string(),
            track: r.text_at(&["TrackToken"]).unwrap_or_default().to_string(),
            time,
            present,
            start_state: r
                .text_at(&["StartStateEvent"])
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
        });
    }
    (state, out)
}

/// Ranges with data and the gaps between them inside `[start, end]`, from time-ordered
/// events of one track (the first video track's events when several tracks report). Before
/// the first event the state is unknown: a first "not present" means data was there from
/// `start`.
pub fn present_ranges(
    events: &[DataPresence],
    start: Timestamp,
    end: Timestamp,
) -> (Vec<Span>, Vec<Span>) {
    if start > end {
        return (Vec::new(), Vec::new());
    }
    let track = events.first().map(|e| e.track.as_str()).unwrap_or_default();
    let mut ranges: Vec<Span> = Vec::new();
    let mut open: Option<Timestamp> = None;
    let mut known = false;
    for e in events.iter().filter(|e| e.track == track) {
        let t = e.time.clamp(start, end);
        match (e.present, open) {
            (true, None) => open = Some(t),
            (false, Some(from)) => {
                if t > from {
                    ranges.push((from, t));
                }
                open = None;
            }
            (false, None) if !known && t > start => ranges.push((start, t)),
            _ => {}
        }
        known = true;
    }
    if let Some(from) = open
        && end > from
    {
        ranges.push((from, end));
    }
    let gaps = ranges.windows(2).map(|w| (w[0].1, w[1].0)).collect();
    (ranges, gaps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onvif::replay::tests::body;

    /// Shaped like a gSOAP device's answer: 1970 dates (recorded before NTP sync), three
    /// tracks, default namespaces on some elements and prefixes on others.
    const GSOAP_LIKE_COMPLETED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope"
 xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tse="http://www.onvif.org/ver10/search/wsdl">
<SOAP-ENV:Body><tse:GetRecordingSearchResultsResponse><tse:ResultList>
<tt:SearchState>Completed</tt:SearchState>
<tt:RecordingInformation>
 <tt:RecordingToken>OnvifRecordingToken_1</tt:RecordingToken>
 <tt:Source><tt:SourceId>VideoSourceToken_1</tt:SourceId><tt:Name>CH1</tt:Name>
  <tt:Location>gate</tt:Location><tt:Description>SD card</tt:Description>
  <tt:Address>rtsp://0.0.0.0/</tt:Address></tt:Source>
 <tt:EarliestRecording>1970-01-01T00:03:15Z</tt:EarliestRecording>
 <tt:LatestRecording>2026-11-25T11:59:59Z</tt:LatestRecording>
 <tt:Content>continuous</tt:Content>
 <tt:Track><tt:TrackToken>VIDEO001</tt:TrackToken><tt:TrackType>Video</tt:TrackType>
  <tt:Description>video</tt:Description><tt:DataFrom>1970-01-01T00:03:15Z</tt:DataFrom>
  <tt:DataTo>2026-11-25T11:59:59Z</tt:DataTo></tt:Track>
 <tt:Track><tt:TrackToken>AUDIO001</tt:TrackToken><tt:TrackType>Audio</tt:TrackType>
  <tt:Description/></tt:Track>
 <tt:Track><tt:TrackToken>META001</tt:TrackToken><tt:TrackType>Metadata</tt:TrackType></tt:Track>
 <tt:RecordingStatus>Recording</tt:RecordingStatus>
</tt:RecordingInformation>
</tse:ResultList></tse:GetRecordingSearchResultsResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>"#;

    /// A `Searching` page with no results (devices send these while they look).
    const SEARCHING_EMPTY: &str = r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body>
<GetRecordingSearchResultsResponse xmlns="http://www.onvif.org/ver10/search/wsdl">
<ResultList><SearchState xmlns="http://www.onvif.org/ver10/schema">Searching</SearchState></ResultList>
</GetRecordingSearchResultsResponse></e:Body></e:Envelope>"#;

    /// Shaped like an Axis answer to GetRecordingInformation... inside search results, with
    /// a time that has no offset (read as UTC, flagged).
    const AXIS_LIKE_LOCAL_TIME: &str = r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"
 xmlns:tse="http://www.onvif.org/ver10/search/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema"><env:Body>
<tse:GetRecordingSearchResultsResponse><tse:ResultList><tt:SearchState>Completed</tt:SearchState>
<tt:RecordingInformation><tt:RecordingToken>SD_DISK_20261125_100000_67086B52</tt:RecordingToken>
<tt:Source><tt:SourceId>0</tt:SourceId><tt:Name>Camera 1</tt:Name><tt:Location/><tt:Description/><tt:Address/></tt:Source>
<tt:EarliestRecording>2026-11-25T10:00:00</tt:EarliestRecording><tt:LatestRecording>2026-11-25T10:02:00.5Z</tt:LatestRecording>
<tt:Content/><tt:Track><tt:TrackToken>Video</tt:TrackToken><tt:TrackType>Video</tt:TrackType><tt:Description/>
<tt:DataFrom>2026-11-25T10:00:00Z</tt:DataFrom><tt:DataTo>2026-11-25T10:02:00.5Z</tt:DataTo></tt:Track>
<tt:RecordingStatus>Stopped</tt:RecordingStatus></tt:RecordingInformation>
<tt:RecordingInformation><tt:Source/></tt:RecordingInformation>
</tse:ResultList></tse:GetRecordingSearchResultsResponse></env:Body></env:Envelope>"#;

    #[test]
    fn gsoap_like_recording_from_1970_is_kept_and_flagged() {
        let r = body(GSOAP_LIKE_COMPLETED).expect("answer");
        let (state, recs) = parse_recording_search_results(&r);
        assert_eq!(state, SearchState::Completed);
        assert_eq!(recs.len(), 1);
        let rec = &recs[0];
        assert_eq!(rec.token, "OnvifRecordingToken_1");
        assert_eq!(rec.source_id, "VideoSourceToken_1");
        assert_eq!(rec.location, "gate");
        assert_eq!(rec.earliest.map(|t| t.as_second()), Some(195));
        assert_eq!(
            rec.latest.map(|t| t.to_string()).as_deref(),
            Some("2026-11-25T11:59:59Z")
        );
        assert!(rec.suspect_time, "a 1970 start is flagged");
        assert_eq!(rec.status, "Recording");
        let kinds: Vec<_> = rec.tracks.iter().map(|t| t.kind.as_str()).collect();
        assert_eq!(kinds, ["Video", "Audio", "Metadata"]);
        assert_eq!(rec.tracks[1].data_from, None);
    }

    /// GetMediaAttributes shaped like a Hikvision-style NVR's answer: a video and an audio
    /// track, a frame rate with a fraction, a bit rate that is not a number (left out), and
    /// an entry without a recording token (skipped).
    const MEDIA_ATTRIBUTES: &str = r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"
 xmlns:tse="http://www.onvif.org/ver10/search/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema"><env:Body>
<tse:GetMediaAttributesResponse>
<tse:MediaAttributes><tt:RecordingToken>Record_0101</tt:RecordingToken>
 <tt:TrackAttributes><tt:TrackInformation><tt:TrackToken>VideoTrack_1</tt:TrackToken><tt:TrackType>Video</tt:TrackType>
  <tt:Description>main</tt:Description><tt:DataFrom>2026-11-25T00:00:00Z</tt:DataFrom><tt:DataTo>2026-11-25T12:00:00Z</tt:DataTo></tt:TrackInformation>
  <tt:VideoAttributes><tt:Bitrate>4096</tt:Bitrate><tt:Width>2560</tt:Width><tt:Height>1440</tt:Height>
  <tt:Encoding>H265</tt:Encoding><tt:Framerate>12.5</tt:Framerate></tt:VideoAttributes></tt:TrackAttributes>
 <tt:TrackAttributes><tt:TrackInformation><tt:TrackToken>AudioTrack_1</tt:TrackToken><tt:TrackType>Audio</tt:TrackType>
  <tt:Description/></tt:TrackInformation>
  <tt:AudioAttributes><tt:Bitrate>n/a</tt:Bitrate><tt:Encoding>G711</tt:Encoding><tt:Samplerate>8</tt:Samplerate></tt:AudioAttributes></tt:TrackAttributes>
 <tt:From>2026-11-25T00:00:00Z</tt:From><tt:Until>2026-11-25T12:00:00Z</tt:Until></tse:MediaAttributes>
<tse:MediaAttributes><tt:From>2026-11-25T00:00:00Z</tt:From></tse:MediaAttributes>
</tse:GetMediaAttributesResponse></env:Body></env:Envelope>"#;

    #[test]
    fn media_attributes_of_an_h265_and_g711_recording() {
        let r = body(MEDIA_ATTRIBUTES).expect("answer");
        let m = parse_media_attributes(&r);
        assert_eq!(m.len(), 1, "the tokenless entry is skipped");
        let m = &m[0];
        assert_eq!(m.recording, "Record_0101");
        assert_eq!(
            m.from.map(|t| t.to_string()).as_deref(),
            Some("2026-11-25T00:00:00Z")
        );
        assert_eq!(m.tracks.len(), 2);
        let v = m.tracks[0].video.as_ref().expect("video attributes");
        assert_eq!(m.tracks[0].track.token, "VideoTrack_1");
        assert_eq!(
            (
                v.encoding.as_str(),
                v.width,
                v.height,
                v.framerate,
                v.bitrate_kbps
            ),
            ("H265", Some(2560), Some(1440), Some(12.5), Some(4096))
        );
        assert!(m.tracks[0].audio.is_none());
        let a = m.tracks[1].audio.as_ref().expect("audio attributes");
        assert_eq!(m.tracks[1].track.kind, "Audio");
        assert_eq!(
            (a.encoding.as_str(), a.bitrate_kbps, a.sample_rate_khz),
            ("G711", None, Some(8))
        );
    }

    #[test]
    fn covering_picks_the_one_recording_that_overlaps_the_window() {
        let rec = |token: &str, from: &str, to: Option<&str>| RecordingInformation {
            token: token.into(),
            source_id: String::new(),
            source_name: String::new(),
            location: String::new(),
            description: String::new(),
            earliest: Some(ts(from)),
            latest: to.map(ts),
            content: String::new(),
            tracks: Vec::new(),
            status: String::new(),
            suspect_time: false,
        };
        let recs = [
            rec("old", "2026-11-24T00:00:00Z", Some("2026-11-24T12:00:00Z")),
            rec("now", "2026-11-25T00:00:00Z", Some("2026-11-25T12:00:00Z")),
            rec("open", "2026-11-26T00:00:00Z", None),
        ];
        let w = |a: &str, b: &str| covering(&recs, ts(a), ts(b));
        assert_eq!(
            w("2026-11-25T10:00:00Z", "2026-11-25T10:05:00Z"),
            Covering::One("now".into())
        );
        assert_eq!(
            w("2026-11-23T00:00:00Z", "2026-11-23T01:00:00Z"),
            Covering::NoneOf(3)
        );
        // An unknown end counts as overlapping: the device did not say.
        assert_eq!(
            w("2026-11-25T11:00:00Z", "2026-11-27T00:00:00Z"),
            Covering::Several(vec!["now".into(), "open".into()])
        );
    }

    #[test]
    fn searching_page_with_no_results_is_not_the_end() {
        let r = body(SEARCHING_EMPTY).expect("answer");
        assert_eq!(
            parse_recording_search_results(&r),
            (SearchState::Searching, vec![])
        );
    }

    #[test]
    fn axis_like_time_without_offset_is_utc_and_flagged_and_tokenless_entries_skipped() {
        let r = body(AXIS_LIKE_LOCAL_TIME).expect("answer");
        let (state, recs) = parse_recording_search_results(&r);
        assert_eq!(state, SearchState::Completed);
        assert_eq!(recs.len(), 1, "the entry without a token is skipped");
        let rec = &recs[0];
        assert_eq!(
            rec.earliest.map(|t| t.to_string()).as_deref(),
            Some("2026-11-25T10:00:00Z")
        );
        assert_eq!(
            rec.latest.map(|t| t.to_string()).as_deref(),
            Some("2026-11-25T10:02:00.5Z")
        );
        assert!(rec.suspect_time);
        assert_eq!(rec.tracks[0].token, "Video");
    }

    #[test]
    fn search_token_and_a_fault_with_http_200() {
        let r = body(r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><tse:FindRecordingsResponse xmlns:tse="http://www.onvif.org/ver10/search/wsdl"><tse:SearchToken> SearchToken_7 </tse:SearchToken></tse:FindRecordingsResponse></e:Body></e:Envelope>"#).expect("answer");
        assert_eq!(parse_search_token(&r), Some("SearchToken_7"));
        let fault = body(
            r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:ter="http://www.onvif.org/ver10/error"><s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>ter:InvalidArgVal</s:Value><s:Subcode><s:Value>ter:InvalidToken</s:Value></s:Subcode></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en">Unknown search token</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>"#,
        );
        assert!(fault.is_err());
        let empty = body(r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><FindRecordingsResponse/></e:Body></e:Envelope>"#).expect("answer");
        assert_eq!(parse_search_token(&empty), None);
        // A page with no ResultList at all: keep asking, nothing found.
        assert_eq!(
            parse_recording_search_results(&empty),
            (SearchState::Other, vec![])
        );
    }

    /// FindEvents results shaped like a device's: the start state (present), the hole
    /// (not present, then present again), an event of another topic, a result without time.
    const EVENTS: &str = r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"
 xmlns:tse="http://www.onvif.org/ver10/search/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema"
 xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2"><e:Body><tse:GetEventSearchResultsResponse>
<tse:ResultList><tt:SearchState>Completed</tt:SearchState>
<tt:Result><tt:RecordingToken>Rec1</tt:RecordingToken><tt:TrackToken>VIDEO001</tt:TrackToken>
<tt:Time>2026-11-25T10:00:40Z</tt:Time><tt:Event><wsnt:Topic>tns1:RecordingHistory/Track/State</wsnt:Topic>
<wsnt:Message><tt:Message UtcTime="2026-11-25T10:00:40Z"><tt:Source/><tt:Data>
<tt:SimpleItem Name="IsDataPresent" Value="false"/></tt:Data></tt:Message></wsnt:Message></tt:Event>
<tt:StartStateEvent>false</tt:StartStateEvent></tt:Result>
<tt:Result><tt:RecordingToken>Rec1</tt:RecordingToken><tt:TrackToken>VIDEO001</tt:TrackToken>
<tt:Time>2026-11-25T10:00:00Z</tt:Time><tt:Event><wsnt:Topic>tns1:RecordingHistory/Track/State</wsnt:Topic>
<wsnt:Message><tt:Message><tt:Data><tt:SimpleItem Name="IsDataPresent" Value="true"/></tt:Data>
</tt:Message></wsnt:Message></tt:Event><tt:StartStateEvent>true</tt:StartStateEvent></tt:Result>
<tt:Result><tt:RecordingToken>Rec1</tt:RecordingToken><tt:TrackToken>VIDEO001</tt:TrackToken>
<tt:Time>2026-11-25T10:00:52Z</tt:Time><tt:Event><wsnt:Topic>tns1:RecordingHistory/Track/State</wsnt:Topic>
<wsnt:Message><tt:Message><tt:Data><tt:SimpleItem Name="IsDataPresent" Value="true"/></tt:Data>
</tt:Message></wsnt:Message></tt:Event><tt:StartStateEvent>false</tt:StartStateEvent></tt:Result>
<tt:Result><tt:RecordingToken>Rec1</tt:RecordingToken><tt:Time>2026-11-25T10:00:45Z</tt:Time>
<tt:Event><wsnt:Topic>tns1:RecordingHistory/Recording/State</wsnt:Topic><wsnt:Message><tt:Message>
<tt:Data><tt:SimpleItem Name="IsRecording" Value="false"/></tt:Data></tt:Message></wsnt:Message></tt:Event></tt:Result>
<tt:Result><tt:RecordingToken>Rec1</tt:RecordingToken><tt:Event><wsnt:Message><tt:Message><tt:Data>
<tt:SimpleItem Name="IsDataPresent" Value="true"/></tt:Data></tt:Message></wsnt:Message></tt:Event></tt:Result>
</tse:ResultList></tse:GetEventSearchResultsResponse></e:Body></e:Envelope>"#;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("time")
    }

    #[test]
    fn data_presence_events_become_ranges_and_gaps() {
        let r = body(EVENTS).expect("answer");
        let (state, mut ev) = parse_event_search_results(&r);
        assert_eq!(state, SearchState::Completed);
        assert_eq!(ev.len(), 3, "{ev:?}");
        ev.sort_by_key(|e| e.time);
        assert!(ev[0].present && ev[0].start_state);
        assert!(!ev[1].present);
        let (ranges, gaps) =
            present_ranges(&ev, ts("2026-11-25T09:59:00Z"), ts("2026-11-25T10:01:00Z"));
        assert_eq!(
            ranges,
            [
                (ts("2026-11-25T10:00:00Z"), ts("2026-11-25T10:00:40Z")),
                (ts("2026-11-25T10:00:52Z"), ts("2026-11-25T10:01:00Z"))
            ]
        );
        assert_eq!(
            gaps,
            [(ts("2026-11-25T10:00:40Z"), ts("2026-11-25T10:00:52Z"))]
        );
    }

    #[test]
    fn a_first_not_present_means_data_from_the_start() {
        let e = |t: &str, present| DataPresence {
            recording: "R".into(),
            track: "V".into(),
            time: ts(t),
            present,
            start_state: false,
        };
        let (ranges, gaps) = present_ranges(
            &[
                e("2026-11-25T10:00:10Z", false),
                e("2026-11-25T10:00:20Z", true),
            ],
            ts("2026-11-25T10:00:00Z"),
            ts("2026-11-25T10:00:30Z"),
        );
        assert_eq!(
            ranges,
            [
                (ts("2026-11-25T10:00:00Z"), ts("2026-11-25T10:00:10Z")),
                (ts("2026-11-25T10:00:20Z"), ts("2026-11-25T10:00:30Z"))
            ]
        );
        assert_eq!(gaps.len(), 1);
        assert_eq!(
            present_ranges(&[], ts("2026-11-25T10:00:00Z"), ts("2026-11-25T10:00:30Z")),
            (vec![], vec![])
        );
        // A reversed window is empty, not a panic.
        assert_eq!(
            present_ranges(
                &[e("2026-11-25T10:00:10Z", true)],
                ts("2026-11-25T10:00:30Z"),
                ts("2026-11-25T10:00:00Z")
            ),
            (vec![], vec![])
        );
    }

    #[test]
    fn bad_times_are_none_never_a_panic() {
        let mut s = false;
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "99999-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_time(bad, &mut s), None, "{bad}");
        }
    }
}

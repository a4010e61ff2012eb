#!/usr/bin/python3
"""GStreamer's ONVIF RTSP server (gst-rtsp-server 1.22: RTSPOnvifServer, an
RTSPOnvifMediaFactory with replay support, rtponviftimestamp) serving an H.264 file as a
recording dated to a real day: the Profile G replay peer of camwire's tests.

Usage: gst_onvif_server.py FILE --start 2026-11-25T10:00:00Z [--fps 25] [--port N]
                           [--ignore-end] [--gap AT:LEN[:nod]] [--clock-offset S]
                           [--refuse-rate-control-no] [--soap-log FILE] [--no-get-services]
                           [--vendor-mount PATH]... [--utc-offset S] [--codec h264|h265]
                           [--audio pcmu|aac]

FILE is an MP4 with one H.264 track (converted here with ffmpeg to Annex B with an access
unit delimiter before every access unit) or such an Annex B file already (.h264), B-frame
free. Access unit i is the frame recorded at START + i / FPS.

With --codec h265, FILE is an MP4 with one H.265 track (converted with ffmpeg's
hevc_mp4toannexb and hevc_metadata=aud=insert) or an Annex B .h265/.hevc file with an AUD
(NAL type 35) before every access unit; keyframes are IRAP pictures (NAL types 16..21), and
every mount runs h265parse ! rtph265pay config-interval=-1 instead of the H.264 elements.

With --audio pcmu|aac, FILE's first audio track (G.711 µ-law, or AAC) is served too, as a
second stream (pay1) of the replay and vendor mounts: µ-law in 20 ms buffers through
rtppcmupay, AAC frame by frame (ADTS headers stripped, codec_data from them) through
rtpmp4gpay. Audio frame k is at START + (its first packet's pts - the video's first pts, as
ffprobe reads FILE) + k * frame length, so audio minus video is the file's. On the replay
mount each audio buffer goes through its own rtponviftimestamp (0xABAC on every audio
packet, as ONVIF replay servers do); a seek starts the audio at its first frame at or after
the video's keyframe. --gap does not apply to the audio.

Printed on stdout once everything listens: "READY <replay-url> <plain-url> <device-xaddr>".

RTSP mounts:
- /recording/1: an ONVIF media factory with replay support. `PLAY` with
  `Require: onvif-replay`, `Range: clock=T1-T2` and `Rate-Control: no|yes` seeks to the
  keyframe at or before T1; rtponviftimestamp writes the 0xABAC extension (NTP = the frame's
  wall clock, C on keyframes, D after the seek, E and T on the last frame).
- /live: a plain media factory over the same file: it answers
  `551 Option not supported` to a request carrying `Require: onvif-replay`.
- each --vendor-mount PATH: a device's own playback URL (Hikvision
  `/Streaming/tracks/101?starttime=…Z&endtime=…Z`, Dahua `/cam/playback?…&starttime=Y_M_D_h_m_s`
  in the --utc-offset local time, Uniview `/c1/b<unix>/e<unix>/replay/`): plays from the
  keyframe at or before the URL's start, in real time, past its end, without 0xABAC.

The device address is our own minimal SOAP template responder (Python's http.server, not a
real device; no authentication): GetSystemDateAndTime (our clock, optionally shifted by
--clock-offset seconds), GetServices (device, media, replay, search), GetDeviceInformation,
GetReplayUri, which answers the replay mount for RecordingToken_1 and the fault
ter:InvalidArgVal/ter:NoRecording (HTTP 400) for any other token, and a search session:
FindRecordings, GetRecordingSearchResults (a Searching page with no results, then
RecordingToken_1 spanning the archive, Completed), FindEvents and GetEventSearchResults
(RecordingHistory/Track/State: present from the start, not present over a --gap, not
present after the end) and EndSearch. With --no-get-services, GetServices is a fault and the
Search and Replay addresses come only from GetCapabilities' Extension, as on older firmware. --soap-log FILE gets one
line per operation served.

How the seek reaches the file (gst-rtsp-server 1.22, rtsp-media.c): a `clock=` range becomes
nanoseconds since 1900, and the pipeline is seeked there. So the source below lives on a
1900-based timeline: the PTS of access unit i is (START - 1900) + i / FPS, and with
`ntp-offset=0` rtponviftimestamp's NTP time is exactly that. Seeks start at the keyframe at
or before the asked time.
"""
import argparse
import calendar
import datetime
import http.server
import subprocess
import sys
import threading
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstBase", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, GObject, Gst, GstBase, GstRtsp, GstRtspServer  # noqa: E402

Gst.init(None)

NTP_UNIX = 2_208_988_800
CAPS = "video/x-h264,stream-format=byte-stream,alignment=au"
CAPS_H265 = "video/x-h265,stream-format=byte-stream,alignment=au"


def split_access_units_h265(data: bytes):
    """(bytes, keyframe) per H.265 access unit, cut at each AUD (NAL type 35); a keyframe
    holds an IRAP picture (NAL types 16..21: BLA, IDR, CRA)."""
    def nal_type(b):
        return (b >> 1) & 0x3F

    starts = []
    i = data.find(b"\x00\x00\x01")
    while i >= 0:
        if i + 3 < len(data) and nal_type(data[i + 3]) == 35:
            starts.append(i - 1 if i > 0 and data[i - 1] == 0 else i)
        i = data.find(b"\x00\x00\x01", i + 3)
    aus = []
    for n, s in enumerate(starts):
        e = starts[n + 1] if n + 1 < len(starts) else len(data)
        au = data[s:e]
        key = False
        j = au.find(b"\x00\x00\x01")
        while j >= 0:
            if j + 3 < len(au) and 16 <= nal_type(au[j + 3]) <= 21:
                key = True
                break
            j = au.find(b"\x00\x00\x01", j + 3)
        aus.append((au, key))
    return aus


def split_access_units(data: bytes):
    """(bytes, keyframe) per access unit, cut at each AUD (NAL type 9)."""
    starts = []
    i = data.find(b"\x00\x00\x01")
    while i >= 0:
        if i + 3 < len(data) and data[i + 3] & 0x1F == 9:
            starts.append(i - 1 if i > 0 and data[i - 1] == 0 else i)
        i = data.find(b"\x00\x00\x01", i + 3)
    aus = []
    for n, s in enumerate(starts):
        e = starts[n + 1] if n + 1 < len(starts) else len(data)
        au = data[s:e]
        key = False
        j = au.find(b"\x00\x00\x01")
        while j >= 0:
            if j + 3 < len(au) and au[j + 3] & 0x1F == 5:
                key = True
                break
            j = au.find(b"\x00\x00\x01", j + 3)
        aus.append((au, key))
    return aus


class ArchiveSrc(GstBase.BaseSrc):
    """Pushes one access unit per buffer on the 1900-based timeline; seekable in time."""

    __gstmetadata__ = ("camwire archive source", "Source/Video", "test archive", "camwire")
    __gsttemplates__ = (
        Gst.PadTemplate.new(
            "src", Gst.PadDirection.SRC, Gst.PadPresence.ALWAYS, Gst.Caps.from_string(CAPS)
        ),
    )

    def __init__(self, archive):
        super().__init__()
        self.archive = archive
        self.aus = archive.aus
        self.ignore_end = archive.ignore_end
        self.index = 0
        # Vendor playback: where a plain (unseeked) session starts, and timestamps relative
        # to it, so a plain media's clock-synced sinks play it in real time.
        self.base = 0
        self.pts_base = 0
        self.first = True
        self.stop = None
        self.set_format(Gst.Format.TIME)
        self.set_live(False)

    def snap(self, t):
        """Index of the keyframe at or before time t (ns since 1900)."""
        i = self.archive.index_at(t)
        while i > 0 and not self.aus[i][1]:
            i -= 1
        return i

    def do_is_seekable(self):
        return True

    def do_event(self, event):
        # A seek starts at the keyframe at or before its start (KEY_UNIT, as devices do):
        # the seek itself is rewritten, because buffers before the segment start make
        # rtponviftimestamp 1.22.0 fail ("Failed to get stream time"), and a segment
        # changed in do_prepare_seek_segment does not reach the C side from Python.
        if event.type == Gst.EventType.SEEK:
            rate, fmt, flags, start_type, start, stop_type, stop = event.parse_seek()
            if fmt == Gst.Format.TIME and start_type == Gst.SeekType.SET and start >= 0:
                start = self.archive.time_of(self.snap(start))
                if self.ignore_end:
                    stop_type, stop = Gst.SeekType.NONE, -1
                event = Gst.Event.new_seek(rate, fmt, flags, start_type, start, stop_type, stop)
        return GstBase.BaseSrc.do_event(self, event)

    def do_do_seek(self, segment):
        start = segment.start
        self.index = self.snap(start) if start >= self.archive.epoch else self.base
        self.first = True
        self.stop = segment.stop if segment.stop not in (None, -1, Gst.CLOCK_TIME_NONE) else None
        return True

    def do_create(self, offset, length, _buf):
        if self.index >= len(self.aus):
            return (Gst.FlowReturn.EOS, None)
        pts = self.archive.time_of(self.index) - self.pts_base
        if self.stop is not None and pts >= self.stop:
            return (Gst.FlowReturn.EOS, None)
        data, key = self.aus[self.index]
        buf = Gst.Buffer.new_wrapped(data)
        buf.pts = pts
        buf.dts = pts
        buf.duration = self.archive.frame
        if not key:
            buf.set_flags(Gst.BufferFlags.DELTA_UNIT)
        if self.index == self.archive.gap_index and self.archive.gap_d and not self.first:
            # rtponviftimestamp sets D on a DISCONT buffer.
            buf.set_flags(Gst.BufferFlags.DISCONT)
        self.first = False
        self.index += 1
        return (Gst.FlowReturn.OK, buf)


GObject.type_register(ArchiveSrc)


class ArchiveSrcH265(ArchiveSrc):
    """ArchiveSrc for an H.265 archive: the same source with H.265 caps."""

    __gstmetadata__ = ("camwire H.265 archive source", "Source/Video", "test archive", "camwire")
    __gsttemplates__ = (
        Gst.PadTemplate.new(
            "src", Gst.PadDirection.SRC, Gst.PadPresence.ALWAYS, Gst.Caps.from_string(CAPS_H265)
        ),
    )


GObject.type_register(ArchiveSrcH265)

# Per codec: the source class, parser and payloader.
CODECS = {
    "h264": (ArchiveSrc, "h264parse", "rtph264pay"),
    "h265": (ArchiveSrcH265, "h265parse", "rtph265pay"),
}


class AudioSrc(GstBase.BaseSrc):
    """Pushes the archive's audio frames on the same 1900-based timeline as ArchiveSrc;
    a seek snaps to the video's keyframe, as the video source does, then starts at the first
    audio frame at or after it (rtponviftimestamp refuses buffers before the segment)."""

    __gstmetadata__ = ("camwire archive audio source", "Source/Audio", "test archive", "camwire")
    __gsttemplates__ = (
        Gst.PadTemplate.new(
            "src", Gst.PadDirection.SRC, Gst.PadPresence.ALWAYS, Gst.Caps.new_any()
        ),
    )

    def __init__(self, archive):
        super().__init__()
        self.archive = archive
        self.audio = archive.audio
        self.index = 0
        self.pts_base = 0
        self.stop = None
        self.set_format(Gst.Format.TIME)
        self.set_live(False)

    def first_at(self, t):
        """Index of the first audio frame at or after t (ns since 1900)."""
        for i, (pts, _) in enumerate(self.audio.frames):
            if pts >= t:
                return i
        return len(self.audio.frames)

    def do_get_caps(self, filt):
        caps = self.audio.caps
        return caps.intersect(filt) if filt else caps

    def do_is_seekable(self):
        return True

    def do_event(self, event):
        if event.type == Gst.EventType.SEEK:
            rate, fmt, flags, start_type, start, stop_type, stop = event.parse_seek()
            if fmt == Gst.Format.TIME and start_type == Gst.SeekType.SET and start >= 0:
                i = self.archive.index_at(start)
                while i > 0 and not self.archive.aus[i][1]:
                    i -= 1
                start = self.archive.time_of(i)
                if self.archive.ignore_end:
                    stop_type, stop = Gst.SeekType.NONE, -1
                event = Gst.Event.new_seek(rate, fmt, flags, start_type, start, stop_type, stop)
        return GstBase.BaseSrc.do_event(self, event)

    def do_do_seek(self, segment):
        if segment.start >= self.archive.epoch:
            self.index = self.first_at(segment.start)
        self.stop = segment.stop if segment.stop not in (None, -1, Gst.CLOCK_TIME_NONE) else None
        return True

    def do_create(self, offset, length, _buf):
        if self.index >= len(self.audio.frames):
            return (Gst.FlowReturn.EOS, None)
        pts, data = self.audio.frames[self.index]
        pts -= self.pts_base
        if self.stop is not None and pts >= self.stop:
            return (Gst.FlowReturn.EOS, None)
        buf = Gst.Buffer.new_wrapped(data)
        buf.pts = pts
        buf.dts = pts
        buf.duration = self.audio.frame_ns
        self.index += 1
        return (Gst.FlowReturn.OK, buf)


GObject.type_register(AudioSrc)


class ArchiveAudio:
    """The archive's audio: (pts ns since 1900, bytes) per buffer, caps and payloader."""

    def __init__(self, path, kind, epoch):
        def probe(stream):
            out = subprocess.run(
                ["ffprobe", "-v", "error", "-select_streams", stream, "-show_entries",
                 "packet=pts_time", "-read_intervals", "%+#1", "-of", "csv=p=0", path],
                check=True, stdout=subprocess.PIPE,
            ).stdout.decode().split()
            return float(out[0].strip(",")) if out else 0.0

        offset = round((probe("a:0") - probe("v:0")) * 1e9)
        self.frames = []
        if kind == "pcmu":
            data = subprocess.run(
                ["ffmpeg", "-v", "error", "-i", path, "-map", "0:a:0", "-c", "copy", "-f",
                 "mulaw", "-"],
                check=True, stdout=subprocess.PIPE,
            ).stdout
            self.frame_ns = 20_000_000
            for k in range(0, len(data), 160):
                self.frames.append((epoch + offset + k * 125_000, data[k:k + 160]))
            self.caps = Gst.Caps.from_string("audio/x-mulaw,rate=8000,channels=1")
            self.pay = "rtppcmupay"
            return
        data = subprocess.run(
            ["ffmpeg", "-v", "error", "-i", path, "-map", "0:a:0", "-c", "copy", "-f", "adts",
             "-"],
            check=True, stdout=subprocess.PIPE,
        ).stdout
        rates = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025,
                 8000, 7350]
        i, asc = 0, None
        while i + 7 <= len(data):
            h = data[i:i + 7]
            length = ((h[3] & 3) << 11) | (h[4] << 3) | (h[5] >> 5)
            header = 7 if h[1] & 1 else 9
            if asc is None:
                profile = (h[2] >> 6) + 1
                sf = (h[2] >> 2) & 0xF
                ch = ((h[2] & 1) << 2) | (h[3] >> 6)
                rate = rates[sf]
                asc = bytes([(profile << 3) | (sf >> 1), ((sf & 1) << 7) | (ch << 3)])
                self.frame_ns = 1024 * 1_000_000_000 // rate
            k = len(self.frames)
            self.frames.append(
                (epoch + offset + k * 1024 * 1_000_000_000 // rate, data[i + header:i + length])
            )
            i += length
        self.caps = Gst.Caps.from_string(
            f"audio/mpeg,mpegversion=4,stream-format=raw,rate={rate},channels={ch},"
            f"codec_data=(buffer){asc.hex()}"
        )
        self.pay = "rtpmp4gpay"


def audio_bin(archive, onvif, pts_base=None):
    """pay1: the archive's audio, its payloader, and on the replay mount rtponviftimestamp."""
    pay1 = Gst.Bin.new("pay1")
    src = AudioSrc(archive)
    if pts_base is not None:
        src.pts_base = pts_base
        src.index = src.first_at(pts_base)
    pay = Gst.ElementFactory.make(archive.audio.pay)
    pay.set_property("pt", 0 if archive.audio.pay == "rtppcmupay" else 97)
    elements = [src, pay]
    if onvif:
        ts = Gst.ElementFactory.make("rtponviftimestamp")
        ts.set_property("ntp-offset", 0)
        elements.append(ts)
    for e in elements:
        pay1.add(e)
    for a, b in zip(elements, elements[1:]):
        a.link(b)
    pay1.add_pad(Gst.GhostPad.new("src", elements[-1].get_static_pad("src")))
    return pay1


class Archive:
    """The recording: access units, the first one's time (ns since 1900), frame length, and
    an optional hole: from access unit `gap_index` on, times are `gap_ns` later."""

    def __init__(self, aus, epoch, frame, ignore_end, gap=None, codec="h264"):
        self.codec = codec
        self.aus = aus
        self.epoch = epoch
        self.frame = frame
        self.ignore_end = ignore_end
        self.gap_index, self.gap_ns, self.gap_d = gap if gap else (len(aus), 0, False)
        self.audio = None

    def time_of(self, i):
        return self.epoch + i * self.frame + (self.gap_ns if i >= self.gap_index else 0)

    def index_at(self, t):
        """The access unit showing at t; a time inside the hole gives the first one after."""
        rel = t - self.epoch
        if rel >= self.gap_index * self.frame + self.gap_ns:
            rel -= self.gap_ns
        elif rel >= self.gap_index * self.frame:
            return self.gap_index
        return max(0, min(len(self.aus) - 1, rel // self.frame))


class ArchiveFactory(GstRtspServer.RTSPOnvifMediaFactory):
    def __init__(self, archive):
        super().__init__()
        self.archive = archive

    def do_create_element(self, url):
        outer = Gst.Bin.new(None)
        pay0 = Gst.Bin.new("pay0")
        src_class, parse_name, pay_name = CODECS[self.archive.codec]
        src = src_class(self.archive)
        parse = Gst.ElementFactory.make(parse_name)
        pay = Gst.ElementFactory.make(pay_name)
        pay.set_property("pt", 96)
        pay.set_property("config-interval", -1)
        ts = Gst.ElementFactory.make("rtponviftimestamp")
        ts.set_property("ntp-offset", 0)
        ts.set_property("set-e-bit", True)
        ts.set_property("set-t-bit", True)
        for e in (src, parse, pay, ts):
            pay0.add(e)
        src.link(parse)
        parse.link(pay)
        pay.link(ts)
        pay0.add_pad(Gst.GhostPad.new("src", ts.get_static_pad("src")))
        outer.add(pay0)
        if self.archive.audio:
            outer.add(audio_bin(self.archive, True))
        return outer


def vendor_start(url, utc_offset):
    """The start a vendor playback URL asks for, as Unix seconds, or None."""
    path, query = url.abspath, dict(
        kv.split("=", 1) for kv in (url.query or "").split("&") if "=" in kv
    )
    if path.startswith("/Streaming/tracks/"):
        return calendar.timegm(time.strptime(query["starttime"], "%Y%m%dT%H%M%SZ"))
    if path == "/cam/playback":
        local = calendar.timegm(time.strptime(query["starttime"], "%Y_%m_%d_%H_%M_%S"))
        return local - utc_offset
    if path.startswith("/c") and "/b" in path:
        return int(path.split("/b", 1)[1].split("/", 1)[0])
    return None


class VendorFactory(GstRtspServer.RTSPMediaFactory):
    """A vendor playback mount: the window is in the URL (Hikvision, Dahua or Uniview
    form); plays from the keyframe at or before its start, in real time, past its end (as
    Hikvision does), with no 0xABAC extension."""

    def __init__(self, archive, utc_offset):
        super().__init__()
        self.archive = archive
        self.utc_offset = utc_offset

    def do_create_element(self, url):
        start = vendor_start(url, self.utc_offset)
        if start is None:
            return None
        pay0 = Gst.Bin.new("pay0")
        src_class, parse_name, pay_name = CODECS[self.archive.codec]
        src = src_class(self.archive)
        t = (start + NTP_UNIX) * 1_000_000_000
        src.base = src.index = src.snap(t)
        src.pts_base = self.archive.time_of(src.base)
        parse = Gst.ElementFactory.make(parse_name)
        pay = Gst.ElementFactory.make(pay_name)
        pay.set_property("pt", 96)
        pay.set_property("config-interval", -1)
        for e in (src, parse, pay):
            pay0.add(e)
        src.link(parse)
        parse.link(pay)
        pay0.add_pad(Gst.GhostPad.new("src", pay.get_static_pad("src")))
        outer = Gst.Bin.new(None)
        outer.add(pay0)
        if self.archive.audio:
            outer.add(audio_bin(self.archive, False, src.pts_base))
        return outer


ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" '
    'xmlns:trp="http://www.onvif.org/ver10/replay/wsdl" '
    'xmlns:tt="http://www.onvif.org/ver10/schema" '
    'xmlns:ter="http://www.onvif.org/ver10/error"><env:Body>{}</env:Body></env:Envelope>'
)


def soap_handler(
    device_xaddr, replay_uri, clock_offset, recording_span, hole, log_path, no_get_services,
    utc_offset=None,
):
    """An http.server handler answering what fetch --xaddr and recordings need."""
    pages = {"n": 0}

    def log(op):
        if log_path:
            with open(log_path, "a") as f:
                f.write(op + "\n")

    def service(ns, path, major):
        return (
            f"<tds:Service><tds:Namespace>{ns}</tds:Namespace>"
            f"<tds:XAddr>{device_xaddr.rsplit('/onvif/', 1)[0]}/onvif/{path}</tds:XAddr>"
            f"<tds:Version><tt:Major>{major}</tt:Major><tt:Minor>0</tt:Minor></tds:Version>"
            "</tds:Service>"
        )

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
            status = 200
            for op in (
                "GetSystemDateAndTime", "GetServices", "GetCapabilities", "GetDeviceInformation",
                "GetReplayUri",
                "FindRecordings", "GetRecordingSearchResults", "FindEvents",
                "GetEventSearchResults", "EndSearch",
            ):
                if op in body:
                    log(op)
                    break
            if "GetSystemDateAndTime" in body:
                now = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
                    seconds=clock_offset
                )
                def date_time(t):
                    return (
                        f"<tt:Date><tt:Year>{t.year}</tt:Year><tt:Month>{t.month}</tt:Month>"
                        f"<tt:Day>{t.day}</tt:Day></tt:Date><tt:Time><tt:Hour>{t.hour}</tt:Hour>"
                        f"<tt:Minute>{t.minute}</tt:Minute><tt:Second>{t.second}</tt:Second>"
                        "</tt:Time>"
                    )

                local = ""
                if utc_offset is not None:
                    # A POSIX TZ string (sign inverted, as devices send it) beside the times.
                    tz = f"CST{-utc_offset // 3600:+d}"
                    lt = now + datetime.timedelta(seconds=utc_offset)
                    local = (
                        f"<tt:LocalDateTime>{date_time(lt)}</tt:LocalDateTime>"
                    )
                    tz = f"<tt:TimeZone><tt:TZ>{tz}</tt:TZ></tt:TimeZone>"
                else:
                    tz = ""
                answer = (
                    "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
                    f"<tt:DateTimeType>NTP</tt:DateTimeType>{tz}<tt:UTCDateTime>"
                    f"{date_time(now)}</tt:UTCDateTime>{local}</tds:SystemDateAndTime>"
                    "</tds:GetSystemDateAndTimeResponse>"
                )
            elif "GetCapabilities" in body:
                base = device_xaddr.rsplit("/onvif/", 1)[0]
                answer = (
                    "<tds:GetCapabilitiesResponse><tds:Capabilities>"
                    f"<tt:Device><tt:XAddr>{device_xaddr}</tt:XAddr></tt:Device>"
                    f"<tt:Media><tt:XAddr>{base}/onvif/media_service</tt:XAddr></tt:Media>"
                    "<tt:Extension>"
                    f"<tt:Search><tt:XAddr>{base}/onvif/search_service</tt:XAddr>"
                    "<tt:MetadataSearch>false</tt:MetadataSearch></tt:Search>"
                    f"<tt:Replay><tt:XAddr>{base}/onvif/replay_service</tt:XAddr></tt:Replay>"
                    "</tt:Extension></tds:Capabilities></tds:GetCapabilitiesResponse>"
                )
            elif "GetServices" in body and no_get_services:
                status = 400
                answer = (
                    "<env:Fault><env:Code><env:Value>env:Receiver</env:Value><env:Subcode>"
                    "<env:Value>ter:ActionNotSupported</env:Value></env:Subcode></env:Code>"
                    "<env:Reason><env:Text xml:lang=\"en\">GetServices not supported</env:Text>"
                    "</env:Reason></env:Fault>"
                )
            elif "GetServices" in body:
                answer = (
                    "<tds:GetServicesResponse>"
                    + service("http://www.onvif.org/ver10/device/wsdl", "device_service", 2)
                    + service("http://www.onvif.org/ver10/media/wsdl", "media_service", 2)
                    + service("http://www.onvif.org/ver10/replay/wsdl", "replay_service", 2)
                    + service("http://www.onvif.org/ver10/search/wsdl", "search_service", 2)
                    + "</tds:GetServicesResponse>"
                )
            elif "GetDeviceInformation" in body:
                answer = (
                    "<tds:GetDeviceInformationResponse>"
                    "<tds:Manufacturer>GStreamer</tds:Manufacturer>"
                    "<tds:Model>gst-rtsp-server ONVIF replay peer</tds:Model>"
                    "<tds:FirmwareVersion>1.22</tds:FirmwareVersion>"
                    "<tds:SerialNumber>CW-TEST-0001</tds:SerialNumber>"
                    "<tds:HardwareId>python</tds:HardwareId>"
                    "</tds:GetDeviceInformationResponse>"
                )
            elif "FindRecordings" in body:
                pages["n"] = 0
                answer = (
                    '<tse:FindRecordingsResponse xmlns:tse="http://www.onvif.org/ver10/search/wsdl">'
                    "<tse:SearchToken>SearchToken_1</tse:SearchToken></tse:FindRecordingsResponse>"
                )
            elif "GetRecordingSearchResults" in body:
                # First a Searching page with nothing in it, then the recording, Completed.
                pages["n"] += 1
                found = ""
                state = "Searching"
                if pages["n"] > 1:
                    state = "Completed"
                    start, end = recording_span
                    found = (
                        "<tt:RecordingInformation><tt:RecordingToken>RecordingToken_1"
                        "</tt:RecordingToken><tt:Source><tt:SourceId>VideoSource_1</tt:SourceId>"
                        "<tt:Name>gst archive</tt:Name><tt:Location>loopback</tt:Location>"
                        "<tt:Description/><tt:Address/></tt:Source>"
                        f"<tt:EarliestRecording>{start}</tt:EarliestRecording>"
                        f"<tt:LatestRecording>{end}</tt:LatestRecording><tt:Content/>"
                        "<tt:Track><tt:TrackToken>VIDEO001</tt:TrackToken>"
                        "<tt:TrackType>Video</tt:TrackType><tt:Description/>"
                        f"<tt:DataFrom>{start}</tt:DataFrom><tt:DataTo>{end}</tt:DataTo>"
                        "</tt:Track><tt:RecordingStatus>Stopped</tt:RecordingStatus>"
                        "</tt:RecordingInformation>"
                    )
                answer = (
                    '<tse:GetRecordingSearchResultsResponse xmlns:tse="http://www.onvif.org/ver10/search/wsdl">'
                    f"<tse:ResultList><tt:SearchState>{state}</tt:SearchState>{found}"
                    "</tse:ResultList></tse:GetRecordingSearchResultsResponse>"
                )
            elif "FindEvents" in body:
                answer = (
                    '<tse:FindEventsResponse xmlns:tse="http://www.onvif.org/ver10/search/wsdl">'
                    "<tse:SearchToken>SearchToken_2</tse:SearchToken></tse:FindEventsResponse>"
                )
            elif "GetEventSearchResults" in body:
                # RecordingHistory/Track/State: present from the start (the start state), not
                # present over the hole, and not present after the end.
                start, end = recording_span
                changes = [(start, "true", "true")]
                if hole:
                    changes += [(hole[0], "false", "false"), (hole[1], "true", "false")]
                changes.append((end, "false", "false"))
                results = "".join(
                    "<tt:Result><tt:RecordingToken>RecordingToken_1</tt:RecordingToken>"
                    f"<tt:TrackToken>VIDEO001</tt:TrackToken><tt:Time>{t}</tt:Time><tt:Event>"
                    '<wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/'
                    'ConcreteSet">tns1:RecordingHistory/Track/State</wsnt:Topic><wsnt:Message>'
                    f'<tt:Message UtcTime="{t}"><tt:Source>'
                    '<tt:SimpleItem Name="RecordingToken" Value="RecordingToken_1"/>'
                    '<tt:SimpleItem Name="Track" Value="VIDEO001"/></tt:Source><tt:Data>'
                    f'<tt:SimpleItem Name="IsDataPresent" Value="{v}"/></tt:Data></tt:Message>'
                    f"</wsnt:Message></tt:Event><tt:StartStateEvent>{st}</tt:StartStateEvent>"
                    "</tt:Result>"
                    for t, v, st in changes
                )
                answer = (
                    '<tse:GetEventSearchResultsResponse xmlns:tse="http://www.onvif.org/ver10/search/wsdl" '
                    'xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2"><tse:ResultList>'
                    f"<tt:SearchState>Completed</tt:SearchState>{results}</tse:ResultList>"
                    "</tse:GetEventSearchResultsResponse>"
                )
            elif "EndSearch" in body:
                answer = (
                    '<tse:EndSearchResponse xmlns:tse="http://www.onvif.org/ver10/search/wsdl">'
                    "<tse:Endpoint>2026-11-25T10:02:00Z</tse:Endpoint></tse:EndSearchResponse>"
                )
            elif "GetReplayUri" in body and "RecordingToken_1<" in body:
                answer = f"<trp:GetReplayUriResponse><trp:Uri>{replay_uri}</trp:Uri></trp:GetReplayUriResponse>"
            elif "GetReplayUri" in body:
                status = 400
                answer = (
                    "<env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode>"
                    "<env:Value>ter:InvalidArgVal</env:Value><env:Subcode>"
                    "<env:Value>ter:NoRecording</env:Value></env:Subcode></env:Subcode>"
                    "</env:Code><env:Reason><env:Text xml:lang=\"en\">No such recording"
                    "</env:Text></env:Reason></env:Fault>"
                )
            else:
                status = 400
                answer = (
                    "<env:Fault><env:Code><env:Value>env:Receiver</env:Value><env:Subcode>"
                    "<env:Value>ter:ActionNotSupported</env:Value></env:Subcode></env:Code>"
                    "<env:Reason><env:Text xml:lang=\"en\">Not implemented</env:Text>"
                    "</env:Reason></env:Fault>"
                )
            data = ENVELOPE.format(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/soap+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--start", required=True, help="UTC start, e.g. 2026-11-25T10:00:00Z")
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument(
        "--ignore-end",
        action="store_true",
        help="play on past the end of the Range, as some cameras do (Hikvision)",
    )
    ap.add_argument(
        "--gap",
        metavar="AT:LEN[:nod]",
        help="a hole of LEN s in the recording at AT s (the first frame after it carries D, "
        "unless :nod is given)",
    )
    ap.add_argument(
        "--refuse-rate-control-no",
        action="store_true",
        help="answer 451 Parameter Not Understood to a PLAY with Rate-Control: no, as devices "
        "that only replay in real time do",
    )
    ap.add_argument(
        "--no-get-services",
        action="store_true",
        help="fault GetServices (older firmware): services only through GetCapabilities",
    )
    ap.add_argument("--soap-log", help="append the name of each SOAP operation served to this file")
    ap.add_argument(
        "--vendor-mount",
        action="append",
        default=[],
        metavar="PATH",
        help="serve vendor playback at this exact path (/Streaming/tracks/101, /cam/playback, "
        "/c1/b<unix>/e<unix>/replay/): the window is read from the URL",
    )
    ap.add_argument(
        "--utc-offset",
        type=int,
        help="the device's local time minus UTC, seconds: Dahua URLs are read in it, and "
        "GetSystemDateAndTime gives LocalDateTime and TZ",
    )
    ap.add_argument(
        "--clock-offset",
        type=float,
        default=0.0,
        help="seconds the SOAP side's GetSystemDateAndTime is ahead of the real clock",
    )
    ap.add_argument(
        "--codec",
        choices=["h264", "h265"],
        default="h264",
        help="the codec of FILE (h265: split at AUD NAL type 35, IRAP keyframes, "
        "h265parse ! rtph265pay)",
    )
    ap.add_argument(
        "--audio",
        choices=["pcmu", "aac"],
        help="serve FILE's first audio track (G.711 µ-law or AAC) beside the video",
    )
    a = ap.parse_args()
    annexb = a.file.endswith((".h265", ".hevc")) if a.codec == "h265" else a.file.endswith(
        ".h264"
    )
    if annexb:
        with open(a.file, "rb") as f:
            data = f.read()
    elif a.codec == "h265":
        data = subprocess.run(
            ["ffmpeg", "-v", "error", "-i", a.file, "-c", "copy", "-bsf:v",
             "hevc_mp4toannexb,hevc_metadata=aud=insert", "-f", "hevc", "-"],
            check=True,
            stdout=subprocess.PIPE,
        ).stdout
    else:
        data = subprocess.run(
            ["ffmpeg", "-v", "error", "-i", a.file, "-c", "copy", "-bsf:v",
             "h264_mp4toannexb,h264_metadata=aud=insert", "-f", "h264", "-"],
            check=True,
            stdout=subprocess.PIPE,
        ).stdout
    aus = split_access_units_h265(data) if a.codec == "h265" else split_access_units(data)
    if not aus or not aus[0][1]:
        print("ERROR no access units, or the first is not a keyframe", flush=True)
        return 1
    unix = calendar.timegm(time.strptime(a.start, "%Y-%m-%dT%H:%M:%SZ"))
    epoch_ns = (unix + NTP_UNIX) * 1_000_000_000
    frame_ns = 1_000_000_000 // a.fps

    server = GstRtspServer.RTSPOnvifServer()
    server.set_address("127.0.0.1")
    server.set_service(str(a.port))
    mounts = server.get_mount_points()
    gap = None
    if a.gap:
        at, length, *flag = a.gap.split(":")
        gap = (round(float(at) * a.fps), int(float(length) * 1e9), flag != ["nod"])
    audio = ArchiveAudio(a.file, a.audio, epoch_ns) if a.audio else None
    archive = Archive(aus, epoch_ns, frame_ns, a.ignore_end, gap, a.codec)
    archive.audio = audio
    replay = ArchiveFactory(archive)
    replay.set_replay_support(True)
    replay.set_media_gtype(GstRtspServer.RTSPOnvifMedia.__gtype__)
    mounts.add_factory("/recording/1", replay)
    plain = GstRtspServer.RTSPMediaFactory()
    loc = a.file.replace("\\", "\\\\").replace('"', '\\"')
    demux = "" if annexb else "qtdemux ! "
    _, parse_name, pay_name = CODECS[a.codec]
    plain.set_launch(
        f'( filesrc location="{loc}" ! {demux}{parse_name} ! {pay_name} name=pay0 pt=96 )'
    )
    mounts.add_factory("/live", plain)
    for path in a.vendor_mount:
        vendor_archive = Archive(aus, epoch_ns, frame_ns, True, gap, a.codec)
        vendor_archive.audio = audio
        vendor = VendorFactory(vendor_archive, a.utc_offset or 0)
        vendor.set_shared(False)
        mounts.add_factory(path, vendor)
    if a.refuse_rate_control_no:

        def on_pre_play(_client, ctx):
            res, value = ctx.request.get_header(GstRtsp.RTSPHeaderField.RATE_CONTROL, 0)
            if res == GstRtsp.RTSPResult.OK and value.strip().lower() == "no":
                return GstRtsp.RTSPStatusCode.PARAMETER_NOT_UNDERSTOOD
            return GstRtsp.RTSPStatusCode.OK

        server.connect(
            "client-connected", lambda _s, client: client.connect("pre-play-request", on_pre_play)
        )
    if server.attach(None) == 0:
        print("ERROR cannot attach server", flush=True)
        return 1
    port = server.get_bound_port()
    replay_uri = f"rtsp://127.0.0.1:{port}/recording/1"
    soap = http.server.ThreadingHTTPServer(("127.0.0.1", 0), None)
    xaddr = f"http://127.0.0.1:{soap.server_address[1]}/onvif/device_service"
    span_end = unix + (len(aus) * frame_ns + (gap[1] if gap else 0)) // 1_000_000_000
    span = tuple(
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)) for t in (unix, span_end)
    )
    hole = None
    if gap:
        at = unix + gap[0] * frame_ns // 1_000_000_000
        hole = tuple(
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
            for t in (at, at + gap[1] // 1_000_000_000)
        )
    soap.RequestHandlerClass = soap_handler(
        xaddr, replay_uri, a.clock_offset, span, hole, a.soap_log, a.no_get_services,
        a.utc_offset,
    )
    threading.Thread(target=soap.serve_forever, daemon=True).start()
    print(f"READY {replay_uri} rtsp://127.0.0.1:{port}/live {xaddr}", flush=True)
    GLib.MainLoop().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())

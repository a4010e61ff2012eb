"""Type stubs for the native module camwire._camwire (re-exported by ``camwire``)."""

import asyncio
import builtins
import os
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Literal, Self, SupportsIndex, final, overload

from camwire._types import Range, StorageOptions


__version__: str

_StrPath = str | os.PathLike[str]
#: A wall-clock time: an aware datetime (naive ones are taken as UTC), a Unix timestamp in
#: seconds, or an ISO 8601 / RFC 3339 string.
_TimeLike = datetime | float | int | str
#: ``progress(media_done_secs, media_total_secs, wall_secs, frames)`` of a device fetch.
_Progress = Callable[[float, float, float, int], object]

# Result records behave like dataclasses: ``repr`` is ``Name(field=value, ...)`` and ``==``
# compares the fields. Records whose fields are all hashable hash like a frozen dataclass;
# the others (holding lists or dicts) are unhashable, as ``list`` is.

# --- exceptions -----------------------------------------------------------------------------

class CamwireError(Exception):
    """Base class of every error camwire raises."""

class ConnectionError(CamwireError, builtins.ConnectionError):
    """The camera or device could not be reached (refused, reset, no route)."""

class AuthError(CamwireError):
    """The camera refused the credentials, or needs credentials that were not given."""

class TimeoutError(CamwireError, builtins.TimeoutError):
    """The camera or device did not answer in time."""

class ProtocolError(CamwireError):
    """The device answered in a way camwire does not understand."""

class InvalidInput(CamwireError, ValueError):
    """An argument is unusable (bad URL, unknown profile, bad camera id, ...)."""

# --- live frames ----------------------------------------------------------------------------

@final
class StreamInfo:
    """What a camera's video stream is, read from its SPS/PPS."""

    @property
    def codec(self) -> str: ...
    @property
    def profile(self) -> str: ...
    @property
    def profile_idc(self) -> int: ...
    @property
    def level_idc(self) -> int: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def fps(self) -> float | None: ...
    @property
    def transport(self) -> Literal["tcp", "udp"]: ...
    @property
    def from_sdp(self) -> bool: ...
    @property
    def avcc(self) -> bytes:
        """The decoder configuration record (decoder extradata for ``format="avc"``): avcC for
        H.264, hvcC for H.265 (``codec`` starting with ``hvc1``)."""
    @property
    def tracks(self) -> tuple[StreamTrack, ...]:
        """Every track of the camera's SDP, in SDP order: set up (video 0, audio 1, ...) with
        its decoder configuration, or skipped with the reason."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class StreamTrack:
    """One track of a camera's SDP as a stream sees it (``StreamInfo.tracks``)."""

    @property
    def track(self) -> int | None:
        """The session's track number (0 video, 1.. audio: ``Frame.track``); ``None`` when
        skipped."""
    @property
    def kind(self) -> Literal["video", "audio"] | None: ...
    @property
    def media(self) -> str:
        """The SDP media type (``"video"``, ``"audio"``, ``"application"``, ...)."""
    @property
    def encoding(self) -> str:
        """The SDP encoding name, upper-cased (``"H264"``, ``"MPEG4-GENERIC"``, ``"PCMU"``)."""
    @property
    def codec(self) -> str:
        """RFC 6381 codec string (``"avc1.4d401e"``, ``"mp4a.40.2"``) or sample entry
        (``"ulaw"``, ``"alaw"``); the SDP encoding name (``"G726-32"``) for codecs camwire
        does not handle."""
    @property
    def clock_rate(self) -> int: ...
    @property
    def channels(self) -> int | None: ...
    @property
    def skipped(self) -> str | None:
        """Why the track is not set up; ``None`` when it is."""
    @property
    def config(self) -> bytes:
        """avcC or hvcC (video), AudioSpecificConfig (AAC); empty for G.711 and codecs camwire
        does not handle."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class FrameBuffer:
    """The Rust-owned bytes behind ``Frame.data`` (read-only buffer protocol)."""

    def __len__(self) -> int: ...
    def __buffer__(self, flags: int, /) -> memoryview: ...

@final
class Frame:
    """One picture (or, from a stream opened with ``audio=``, one audio frame) with its
    times."""

    @property
    def track(self) -> int:
        """0 for video, 1.. for audio (``StreamTrack.track``)."""
    @property
    def kind(self) -> Literal["video", "audio"]: ...
    @property
    def codec(self) -> Literal["h264", "h265", "aac", "pcmu", "pcma"]: ...
    @property
    def clock_rate(self) -> int:
        """Ticks per second of ``pts``/``dts``: 90000 for video, the RTP clock for audio."""
    @property
    def samples(self) -> int:
        """Samples per channel of an audio frame (its duration in ``clock_rate`` ticks); 0
        for video."""
    @property
    def pts(self) -> int:
        """Presentation time in ``clock_rate`` ticks."""
    @property
    def dts(self) -> int: ...
    @property
    def keyframe(self) -> bool: ...
    @property
    def loss(self) -> int:
        """RTP packets lost just before this picture."""
    @property
    def size(self) -> int: ...
    @property
    def data(self) -> memoryview:
        """Read-only memoryview over the Rust buffer (no copy; the same object each time): a
        picture in ``format``; an audio frame's bytes as sent (raw AAC access unit, G.711
        samples)."""
    @property
    def wallclock(self) -> datetime:
        """Wall-clock time of the picture, timezone-aware UTC."""
    @property
    def timestamp(self) -> float:
        """``wallclock`` as seconds since the Unix epoch."""
    @property
    def format(self) -> Literal["avc", "annexb"]: ...
    def __len__(self) -> int: ...
    def __bytes__(self) -> bytes: ...
    def __eq__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class Stream:
    """Live H.264/H.265 frames from an RTSP camera (iterator, async iterator, context manager,
    async context manager; ``await Stream.connect(...)`` opens without blocking the loop).
    ``audio="first"`` or ``"all"`` also yields audio frames (``frame.kind == "audio"``); the
    default ``"no"`` yields pictures only."""

    def __new__(
        cls,
        url: str,
        user: str | None = None,
        password: str | None = None,
        transport: Literal["tcp", "udp"] = "tcp",
        timeout: float = 10.0,
        format: Literal["avc", "annexb"] = "avc",
        audio: Literal["no", "first", "all"] = "no",
    ) -> Self: ...
    @staticmethod
    def connect(
        url: str,
        user: str | None = None,
        password: str | None = None,
        transport: Literal["tcp", "udp"] = "tcp",
        timeout: float = 10.0,
        format: Literal["avc", "annexb"] = "avc",
        audio: Literal["no", "first", "all"] = "no",
    ) -> asyncio.Future[Stream]:
        """``await Stream.connect(...)``: opens without blocking the event loop."""
    @property
    def info(self) -> StreamInfo: ...
    @property
    def url(self) -> str: ...
    @property
    def format(self) -> Literal["avc", "annexb"]: ...
    @property
    def closed(self) -> bool: ...
    def stats(self) -> dict[str, int]: ...
    def read(self) -> Frame | None:
        """The next frame; ``None`` once the camera ended the stream."""
    def close(self) -> None: ...
    def __iter__(self) -> Self: ...
    def __next__(self) -> Frame: ...
    def __aiter__(self) -> Self: ...
    def __anext__(self) -> asyncio.Future[Frame]: ...
    def __aenter__(self) -> asyncio.Future[Self]: ...
    def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> asyncio.Future[bool]: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool: ...

# --- ONVIF ----------------------------------------------------------------------------------

@final
class DiscoveredDevice:
    @property
    def endpoint(self) -> str: ...
    @property
    def xaddr(self) -> str | None: ...
    @property
    def xaddrs(self) -> list[str]: ...
    @property
    def name(self) -> str | None: ...
    @property
    def hardware(self) -> str | None: ...
    @property
    def location(self) -> str | None: ...
    @property
    def scopes(self) -> list[str]: ...
    @property
    def types(self) -> list[str]: ...
    @property
    def profiles(self) -> list[str]: ...
    @property
    def source(self) -> str: ...
    def __eq__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

def discover(
    timeout: float = 3.0,
    interfaces: list[str] | None = None,
    *,
    host: str | None = None,
) -> list[DiscoveredDevice]:
    """WS-Discovery: multicast on every (or the named) interface, or unicast to ``host``."""

@final
class DeviceInfo:
    @property
    def manufacturer(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def firmware_version(self) -> str: ...
    @property
    def serial_number(self) -> str: ...
    @property
    def hardware_id(self) -> str: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Profile:
    @property
    def token(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def encoding(self) -> str | None: ...
    @property
    def width(self) -> int | None: ...
    @property
    def height(self) -> int | None: ...
    @property
    def fps(self) -> float | None: ...
    @property
    def bitrate_kbps(self) -> int | None: ...
    @property
    def stream_uri(self) -> str | None: ...
    @property
    def snapshot_uri(self) -> str | None: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Event:
    """One ONVIF notification."""

    @property
    def topic(self) -> str: ...
    @property
    def topic_path(self) -> str: ...
    @property
    def time(self) -> datetime | None: ...
    @property
    def property_operation(self) -> str | None: ...
    @property
    def source(self) -> dict[str, str]: ...
    @property
    def key(self) -> dict[str, str]: ...
    @property
    def data(self) -> dict[str, str]: ...
    @property
    def kind(self) -> Literal["motion", "tamper", "other"]: ...
    @property
    def active(self) -> bool | None: ...
    def __eq__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class Events:
    """Iterator over a device's events (PullPoint); closing unsubscribes."""

    def __iter__(self) -> Self: ...
    def __next__(self) -> Event: ...
    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool: ...

@final
class OnvifDevice:
    def __new__(
        cls,
        xaddr: str,
        user: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        *,
        tls_pin: str | None = None,
        tls_ca: str | os.PathLike[str] | None = None,
        tls_accept_any: bool = False,
    ) -> Self: ...
    @property
    def xaddr(self) -> str: ...
    def info(self) -> DeviceInfo: ...
    def profiles(self) -> list[Profile]: ...
    def stream_uri(self, profile: Profile | str | None = None) -> str: ...
    def snapshot(self, profile: Profile | str | None = None) -> bytes: ...
    def events(self, duration: float | None = None) -> Events: ...
    def recordings(
        self, start: _TimeLike | None = None, end: _TimeLike | None = None
    ) -> list[DeviceRecording]:
        """The recordings the device holds (ONVIF Recording Search). With ``start`` and
        ``end`` (both), each also lists the ranges with data in that window and the gaps."""
    def recordings_async(
        self, start: _TimeLike | None = None, end: _TimeLike | None = None
    ) -> asyncio.Future[list[DeviceRecording]]: ...
    @overload
    def fetch(
        self,
        start: _TimeLike,
        end: _TimeLike,
        out: _StrPath,
        *,
        into: None = None,
        camera: str | None = None,
        recording: str | None = None,
        fragmented: bool = False,
        real_time: bool = False,
        progress: _Progress | None = None,
        audio: Literal["no", "first", "all"] = "first",
    ) -> ExportResult:
        """``start``..``end`` of a recording off the device (Profile G replay) into the new
        MP4 ``out`` with ``out.manifest.json`` (export's format plus an ``origin`` block).
        ``audio``: the device's first audio track (default), ``"all"`` of them, or ``"no"``."""
    @overload
    def fetch(
        self,
        start: _TimeLike,
        end: _TimeLike,
        out: None = None,
        *,
        into: _StrPath,
        camera: str,
        recording: str | None = None,
        fragmented: Literal[False] = False,
        real_time: bool = False,
        progress: _Progress | None = None,
        audio: Literal["no", "first", "all"] = "first",
    ) -> BackfillResult:
        """Back-fill: the footage written as recorder segments of ``camera`` under ``into``."""
    @overload
    def fetch_async(
        self,
        start: _TimeLike,
        end: _TimeLike,
        out: _StrPath,
        *,
        into: None = None,
        camera: str | None = None,
        recording: str | None = None,
        fragmented: bool = False,
        real_time: bool = False,
        progress: _Progress | None = None,
        audio: Literal["no", "first", "all"] = "first",
    ) -> asyncio.Future[ExportResult]: ...
    @overload
    def fetch_async(
        self,
        start: _TimeLike,
        end: _TimeLike,
        out: None = None,
        *,
        into: _StrPath,
        camera: str,
        recording: str | None = None,
        fragmented: Literal[False] = False,
        real_time: bool = False,
        progress: _Progress | None = None,
        audio: Literal["no", "first", "all"] = "first",
    ) -> asyncio.Future[BackfillResult]: ...

# --- footage off the device (ONVIF Profile G) -----------------------------------------------

@final
class RecordingTrack:
    @property
    def token(self) -> str: ...
    @property
    def kind(self) -> str:
        """``Video``, ``Audio``, ``Metadata`` or ``Extended``."""
    @property
    def description(self) -> str: ...
    @property
    def data_from(self) -> datetime | None: ...
    @property
    def data_to(self) -> datetime | None: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class DeviceRecording:
    """A recording held by a device, from ``OnvifDevice.recordings()``."""

    @property
    def token(self) -> str:
        """What ``OnvifDevice.fetch(recording=...)`` takes."""
    @property
    def source_id(self) -> str: ...
    @property
    def source_name(self) -> str: ...
    @property
    def location(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def earliest(self) -> datetime | None: ...
    @property
    def latest(self) -> datetime | None: ...
    @property
    def content(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def suspect_time(self) -> bool:
        """A time before 2000 or without a UTC offset: the device clock was probably unset."""
    @property
    def tracks(self) -> list[RecordingTrack]: ...
    @property
    def ranges(self) -> list[Range] | None:
        """With a window: the ranges holding data in it; else None."""
    @property
    def gaps(self) -> list[Gap] | None:
        """With a window: the gaps between the ranges; else None."""
    def __eq__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class BackfillResult:
    """What ``fetch(..., into=ROOT, camera=ID)`` wrote: recorder segments under ROOT."""

    @property
    def root(self) -> Path: ...
    @property
    def camera(self) -> str: ...
    @property
    def files(self) -> list[Path]: ...
    @property
    def frames(self) -> int: ...
    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime: ...
    @property
    def rate_control(self) -> Literal["yes", "no"]: ...
    @property
    def rate_control_refused(self) -> str | None: ...
    @property
    def ended_by(self) -> str: ...
    @property
    def wall_secs(self) -> float: ...
    def __eq__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@overload
def fetch(
    url: str,
    start: _TimeLike,
    end: _TimeLike,
    out: _StrPath,
    *,
    into: None = None,
    camera: str | None = None,
    user: str | None = None,
    password: str | None = None,
    fragmented: bool = False,
    real_time: bool = False,
    progress: _Progress | None = None,
    vendor: str | None = None,
    channel: int = 1,
    device_tz: str | None = None,
    audio: Literal["no", "first", "all"] = "first",
) -> ExportResult:
    """``start``..``end`` of the recording behind an ONVIF replay URI into the new MP4 ``out``;
    ``audio``: its first audio track (default), ``"all"`` of them, or ``"no"``."""
@overload
def fetch(
    url: str,
    start: _TimeLike,
    end: _TimeLike,
    out: None = None,
    *,
    into: _StrPath,
    camera: str,
    user: str | None = None,
    password: str | None = None,
    fragmented: Literal[False] = False,
    real_time: bool = False,
    progress: _Progress | None = None,
    vendor: str | None = None,
    channel: int = 1,
    device_tz: str | None = None,
    audio: Literal["no", "first", "all"] = "first",
) -> BackfillResult: ...
@overload
def fetch_async(
    url: str,
    start: _TimeLike,
    end: _TimeLike,
    out: _StrPath,
    *,
    into: None = None,
    camera: str | None = None,
    user: str | None = None,
    password: str | None = None,
    fragmented: bool = False,
    real_time: bool = False,
    progress: _Progress | None = None,
    vendor: str | None = None,
    channel: int = 1,
    device_tz: str | None = None,
    audio: Literal["no", "first", "all"] = "first",
) -> asyncio.Future[ExportResult]: ...
@overload
def fetch_async(
    url: str,
    start: _TimeLike,
    end: _TimeLike,
    out: None = None,
    *,
    into: _StrPath,
    camera: str,
    user: str | None = None,
    password: str | None = None,
    fragmented: Literal[False] = False,
    real_time: bool = False,
    progress: _Progress | None = None,
    vendor: str | None = None,
    channel: int = 1,
    device_tz: str | None = None,
    audio: Literal["no", "first", "all"] = "first",
) -> asyncio.Future[BackfillResult]: ...

# --- recording ------------------------------------------------------------------------------

@final
class RecorderEvent:
    @property
    def camera(self) -> str: ...
    @property
    def kind(
        self,
    ) -> Literal["connected", "disconnected", "gap", "segment_closed", "error", "stopped", "other"]: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def message(self) -> str | None: ...
    @property
    def path(self) -> Path | None: ...
    @property
    def start(self) -> datetime | None: ...
    @property
    def end(self) -> datetime | None: ...
    @property
    def frames(self) -> int | None: ...
    @property
    def bytes(self) -> int | None: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class RecorderEvents:
    def __iter__(self) -> Self: ...
    def __next__(self) -> RecorderEvent: ...

@final
class Recorder:
    """Many cameras recorded to crash-safe fragmented MP4 under ``root``."""

    def __new__(
        cls,
        root: _StrPath,
        segment_secs: int = 60,
        fragment_ms: int = 1000,
        fsync: str = "fragment",
        retain_days: float | None = None,
        retain_gb: float | None = None,
        *,
        reconnect: bool = True,
        upload: str | None = None,
        storage: StorageOptions | None = None,
        local_retain_hours: float | None = None,
    ) -> Self: ...
    @property
    def root(self) -> Path: ...
    def upload_status(self) -> dict[str, Any] | None: ...
    def add_camera(
        self,
        id: str,
        url: str,
        user: str | None = None,
        password: str | None = None,
        *,
        transport: Literal["tcp", "udp"] = "tcp",
        timeout: float = 10.0,
    ) -> None: ...
    def remove_camera(self, id: str) -> dict[str, Any] | None: ...
    def cameras(self) -> list[str]: ...
    def status(self) -> dict[str, dict[str, Any]]: ...
    def events(self, timeout: float | None = None) -> RecorderEvents: ...
    def close(self) -> dict[str, dict[str, Any]]: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool: ...

# --- evidence -------------------------------------------------------------------------------

@final
class Gap:
    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime: ...
    @property
    def duration(self) -> float: ...
    @property
    def reason(self) -> str | None: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Listing(Sequence[Range]):
    """The recorded ranges of one camera, oldest first (a read-only sequence of ``Range``),
    with the gaps between them."""

    @property
    def camera(self) -> str: ...
    @property
    def ranges(self) -> list[Range]:
        """The ranges as a new list."""
    @property
    def gaps(self) -> list[Gap]: ...
    @overload
    def __getitem__(self, index: SupportsIndex, /) -> Range: ...
    @overload
    def __getitem__(self, index: slice, /) -> list[Range]: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[Range]: ...
    def __reversed__(self) -> Iterator[Range]: ...
    def __contains__(self, value: object, /) -> bool: ...
    def index(self, value: Any, start: int = 0, stop: int = ...) -> int: ...
    def count(self, value: Any) -> int: ...
    def __eq__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

def ranges(
    root: _StrPath,
    camera: str,
    start: _TimeLike | None = None,
    end: _TimeLike | None = None,
    *,
    storage: StorageOptions | None = None,
) -> Listing: ...
def cameras(root: _StrPath, *, storage: StorageOptions | None = None) -> list[str]: ...

@final
class ExportResult:
    @property
    def path(self) -> Path: ...
    @property
    def manifest_path(self) -> Path: ...
    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime: ...
    @property
    def frames(self) -> int: ...
    @property
    def gaps(self) -> list[Gap]: ...
    @property
    def sha256(self) -> str: ...
    @property
    def media_sha256(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def container(self) -> Literal["progressive", "fragmented"]: ...
    @property
    def sources(self) -> list[str]: ...
    @property
    def manifest(self) -> dict[str, Any]: ...
    def __eq__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

def export(
    root: _StrPath,
    camera: str,
    start: _TimeLike,
    end: _TimeLike,
    out: _StrPath,
    fragmented: bool = False,
    *,
    storage: StorageOptions | None = None,
) -> ExportResult: ...

@final
class VerifyResult:
    @property
    def ok(self) -> bool: ...
    @property
    def problems(self) -> list[str]: ...
    @property
    def missing_sources(self) -> list[str]: ...
    @property
    def path(self) -> Path: ...
    @property
    def manifest_path(self) -> Path: ...
    def __bool__(self) -> bool: ...
    def __eq__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

def verify(
    path: _StrPath, root: _StrPath | None = None, *, storage: StorageOptions | None = None
) -> VerifyResult: ...

# --- simulated camera -----------------------------------------------------------------------

@final
class SimCamera:
    """A simulated H.264 IP camera (RTSP + ONVIF) served from this process."""

    def __new__(
        cls,
        port: int = 0,
        user: str | None = None,
        password: str | None = None,
        *,
        host: str = "127.0.0.1",
        realtime: bool = True,
        loop: bool = True,
        max_duration: float | None = None,
    ) -> Self: ...
    @property
    def rtsp_url(self) -> str: ...
    @property
    def xaddr(self) -> str:
        """The ONVIF device service URL."""
    @property
    def discovery_addr(self) -> str | None:
        """``IP:PORT`` of the unicast WS-Discovery responder (for ``discover(host=...)``)."""
    @property
    def endpoint(self) -> str | None:
        """The WS-Discovery endpoint reference (``urn:uuid:...``)."""
    @property
    def port(self) -> int: ...
    @property
    def user(self) -> str | None: ...
    @property
    def recording_start(self) -> datetime | None:
        """Start of the Profile G recording the sim serves (it runs to now)."""
    @property
    def recording_gap(self) -> Range | None:
        """The recording's one gap."""
    @property
    def replay_url(self) -> str | None:
        """The recording's RTSP replay URL (what GetReplayUri answers)."""
    def stats(self) -> dict[str, int]: ...
    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool: ...

"""camwire: IP cameras from Python.

Find ONVIF cameras, read live H.264 frames (zero-copy ``memoryview`` payloads), record many
cameras to crash-safe fragmented MP4, and export verified evidence clips. Everything runs in
the Rust core; blocking calls release the GIL and honour Ctrl-C.

Example::

    import camwire
    with camwire.sim.SimCamera() as cam, camwire.Stream(cam.rtsp_url) as stream:
        for frame in stream:
            print(frame.pts, frame.keyframe, len(frame.data))
            break
"""

from . import sim
from ._types import Range, StorageOptions
from ._camwire import (
    AuthError,
    BackfillResult,
    CamwireError,
    ConnectionError,
    DeviceInfo,
    DeviceRecording,
    DiscoveredDevice,
    Event,
    Events,
    ExportResult,
    Frame,
    FrameBuffer,
    Gap,
    InvalidInput,
    Listing,
    OnvifDevice,
    Profile,
    ProtocolError,
    Recorder,
    RecorderEvent,
    RecorderEvents,
    RecordingTrack,
    Stream,
    StreamInfo,
    StreamTrack,
    TimeoutError,
    VerifyResult,
    __version__,
    cameras,
    discover,
    export,
    fetch,
    fetch_async,
    ranges,
    verify,
)

__all__ = [
    "AuthError",
    "BackfillResult",
    "CamwireError",
    "ConnectionError",
    "DeviceInfo",
    "DeviceRecording",
    "DiscoveredDevice",
    "Event",
    "Events",
    "ExportResult",
    "Frame",
    "FrameBuffer",
    "Gap",
    "InvalidInput",
    "Listing",
    "OnvifDevice",
    "Profile",
    "ProtocolError",
    "Range",
    "Recorder",
    "RecorderEvent",
    "RecorderEvents",
    "RecordingTrack",
    "Stream",
    "StorageOptions",
    "StreamInfo",
    "StreamTrack",
    "TimeoutError",
    "VerifyResult",
    "__version__",
    "cameras",
    "discover",
    "export",
    "fetch",
    "fetch_async",
    "ranges",
    "sim",
    "verify",
]

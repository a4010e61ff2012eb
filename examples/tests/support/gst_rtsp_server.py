#!/usr/bin/python3
"""A GStreamer RTSP server serving one file's video track (H.264, or H.265 with --video h265)
and optionally an audio track: the real peer for camwire's tests and benchmarks (software
written by others, as the cameras are).

Usage: gst_rtsp_server.py FILE [--port N] [--path /stream] [--shared] [--video h264|h265]
                          [--audio aac|pcmu|pcma|g726]
Prints "READY rtsp://127.0.0.1:PORT/PATH" on stdout once it listens. Unshared (default):
every client gets its own pipeline from the clip's start; at the clip's end the server sends
RTCP BYE.

--audio adds a second stream (pay1). aac, pcmu and pcma send the file's own first audio track
as stored (no re-encoding, so every session sends the same bytes): AAC in an .mp4
(rtpmp4gpay: RFC 3640 mpeg4-generic AAC-hbr, pt 97), mu-law or A-law in a .mov (rtppcmupay
pt 0, rtppcmapay pt 8). g726 encodes a 440 Hz sine from audiotestsrc (8 kHz mono,
avenc_g726 32 kbit/s, rtpg726pay with RFC 3551 packing): a codec camwire lists as skipped.
Without --audio the launch line is the video-only one.

Video goes out with its parameter sets before every keyframe (h264parse/h265parse and the
payloader with config-interval=-1), as cameras send them.
"""
import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


VIDEO = {
    "h264": "h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 config-interval=-1",
    "h265": "h265parse config-interval=-1 ! rtph265pay name=pay0 pt=96 config-interval=-1",
}

AUDIO = {
    "aac": "d.audio_0 ! queue ! aacparse ! rtpmp4gpay name=pay1 pt=97",
    "pcmu": "d.audio_0 ! queue ! rtppcmupay name=pay1",
    "pcma": "d.audio_0 ! queue ! rtppcmapay name=pay1",
    "g726": "audiotestsrc wave=sine freq=440 ! audio/x-raw,rate=8000,channels=1 "
    "! avenc_g726 bitrate=32000 ! rtpg726pay name=pay1 force-aal2=false",
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--path", default="/stream")
    ap.add_argument("--shared", action="store_true")
    ap.add_argument("--video", choices=sorted(VIDEO), default="h264")
    ap.add_argument("--audio", choices=sorted(AUDIO))
    a = ap.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(a.port))
    factory = GstRtspServer.RTSPMediaFactory()
    loc = a.file.replace("\\", "\\\\").replace('"', '\\"')
    video = VIDEO[a.video]
    if a.audio is None:
        factory.set_launch(f'( filesrc location="{loc}" ! qtdemux ! {video} )')
    else:
        factory.set_launch(
            f'( filesrc location="{loc}" ! qtdemux name=d '
            f"d.video_0 ! queue ! {video} {AUDIO[a.audio]} )"
        )
    factory.set_shared(a.shared)
    server.get_mount_points().add_factory(a.path, factory)
    if server.attach(None) == 0:
        print("ERROR cannot attach server", flush=True)
        return 1
    port = server.get_bound_port()
    print(f"READY rtsp://127.0.0.1:{port}{a.path}", flush=True)
    GLib.MainLoop().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""A GStreamer RTSP server serving one file's video track (H.264 or H.265) and audio track
(AAC, PCMU or PCMA): the real audio/video peer of camwire's tests (issue 12).

Usage: gst_rtsp_av_server.py FILE --video h264|h265 --audio aac|pcmu|pcma [--port N]
                             [--path /stream]
Prints "READY rtsp://127.0.0.1:PORT/PATH" on stdout once it listens. Unshared: every client
gets its own pipeline from the file's start; at its end the server sends RTCP BYE.

AAC goes out as RFC 3640 mpeg4-generic (rtpmp4gpay, AAC-hbr), G.711 with the static payload
types (rtppcmupay 0, rtppcmapay 8). Video carries its parameter sets before every keyframe.
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
    "aac": "aacparse ! rtpmp4gpay name=pay1 pt=97",
    "pcmu": "rtppcmupay name=pay1",
    "pcma": "rtppcmapay name=pay1",
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--video", choices=sorted(VIDEO), required=True)
    ap.add_argument("--audio", choices=sorted(AUDIO), required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--path", default="/stream")
    a = ap.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(a.port))
    factory = GstRtspServer.RTSPMediaFactory()
    loc = a.file.replace("\\", "\\\\").replace('"', '\\"')
    factory.set_launch(
        f'( filesrc location="{loc}" ! qtdemux name=d '
        f"d.video_0 ! queue ! {VIDEO[a.video]} "
        f"d.audio_0 ! queue ! {AUDIO[a.audio]} )"
    )
    factory.set_shared(False)
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
